"""CLI commands of the authoring module."""

import click  # noqa: F401

commands: list = []
