"""CLI commands that build and preview an issue."""

import click  # noqa: F401

commands: list = []
