"""CLI commands of the schedule module."""

import click  # noqa: F401

commands: list = []
