"""`ftkit serve`: run the embedded OpenAI-compatible fine-tuning backend in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind; loopback by default.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where files, jobs and models are kept. Default: the folder `ftkit run` uses "
            "($FTKIT_BACKEND_DIR, else ~/.local/share/ftkit/backend).",
        ),
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="Accepted Bearer key; repeat for several (each is its own organization). "
            "None = open server.",
        ),
    ] = None,
) -> None:
    """Serve files, fine-tunes (both dialects), models and completions at http://HOST:PORT/v1.

    Example: ftkit serve --port 8000 --data-dir ./backend-data --api-key sk-local-1
    """
    from ftkit.backend import BackendSettings
    from ftkit.backend import serve as run_server
    from ftkit.runs.endpoint import default_backend_dir

    data_dir = data_dir or default_backend_dir()

    settings = BackendSettings(data_dir=data_dir, host=host, port=port, api_keys=api_key or [])
    mode = f"{len(settings.api_keys)} API key(s)" if settings.api_keys else "open, no key needed"
    typer.echo(f"ftkit backend on http://{host}:{port}/v1 ({mode}); data in {data_dir}", err=True)
    run_server(settings)


def register(app: typer.Typer) -> None:
    """Add `ftkit serve` to the ftkit app."""
    app.command("serve")(serve)
