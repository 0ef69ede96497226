"""CLI commands of the audience module."""

import click  # noqa: F401

commands: list = []
