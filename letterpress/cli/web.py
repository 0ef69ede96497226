"""CLI commands of the web module."""

import click  # noqa: F401

commands: list = []
