"""`ftkit reports serve`: serve run folders read-only over HTTP, for the Prefect UI's report link."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

reports_app = typer.Typer(help="Run reports over HTTP.", no_args_is_help=True)


@reports_app.command("serve")
def serve(
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", help="The runs directory to serve (read-only).")
    ] = Path("runs"),
    host: Annotated[
        str, typer.Option(help="Interface to bind; loopback by default.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).")] = 8765,
) -> None:
    """Serve the run folders read-only, so report links in the Prefect UI open over HTTP.

    Point the links here with `report.base_url=http://HOST:PORT` in the config or
    FTKIT_REPORTS_URL in the environment of `ftkit run` / the workers.

    Example: ftkit reports serve --runs-dir runs --port 8765
    """
    import socket

    import uvicorn

    from ftkit.errors import ConfigError
    from ftkit.report.serve import reports_app as app

    if not runs_dir.is_dir():
        raise ConfigError(f"{runs_dir}: no such runs directory")
    sock = socket.create_server((host, port))
    bound = sock.getsockname()[1]
    typer.echo(f"serving {runs_dir.resolve()} read-only at http://{host}:{bound}/", err=True)
    typer.echo(
        f"report links: report.base_url=http://{host}:{bound} (or FTKIT_REPORTS_URL)", err=True
    )
    server = uvicorn.Server(uvicorn.Config(app(runs_dir), log_level="warning"))
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    """Add `ftkit reports …` to the ftkit app."""
    app.add_typer(reports_app, name="reports")
