"""`ftkit files`: not built yet."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ftkit app."""
