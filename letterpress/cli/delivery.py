"""CLI commands of the delivery module."""

import click  # noqa: F401

commands: list = []
