"""`ftkit serve`: run the embedded OpenAI-compatible fine-tuning backend in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from typer._click.core import Context, ParameterSource  # typer bundles its own click

from ftkit.errors import ConfigError

if TYPE_CHECKING:
    from ftkit.backend import BackendSettings

API_KEYS_ENV = "FTKIT_API_KEYS"
ADMIN_KEY_ENV = "FTKIT_ADMIN_KEY"
ARGV_KEY_WARNING = (
    "warning: keys given on the command line show in the process list (ps) to every local "
    f"user; use --api-key-file / --admin-key-file or {API_KEYS_ENV} / {ADMIN_KEY_ENV} instead"
)


def serve(
    ctx: typer.Context,
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
            envvar=API_KEYS_ENV,
            show_envvar=True,
            help="Accepted Bearer key; repeat for several (each is its own organization); the "
            "variable holds them separated by spaces. None = open server. Prefer the file or the "
            "variable: ps shows the command line to everyone.",
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option("--api-key-file", help="File of accepted keys, one per line (# comments)."),
    ] = None,
    admin_key: Annotated[
        str | None,
        typer.Option(
            "--admin-key",
            envvar=ADMIN_KEY_ENV,
            show_envvar=True,
            help="Turns on the /_ftkit admin and fault endpoints, for this key only (tenants "
            "get 404 there).",
        ),
    ] = None,
    admin_key_file: Annotated[
        Path | None, typer.Option("--admin-key-file", help="File holding the admin key.")
    ] = None,
    enable_faults: Annotated[
        bool,
        typer.Option(
            "--enable-faults",
            help="Turns on the /_ftkit endpoints of an open server for anyone (tests).",
        ),
    ] = False,
) -> None:
    """Serve files, fine-tunes (both dialects), models and completions at http://HOST:PORT/v1.

    Example: FTKIT_API_KEYS=sk-local-1 ftkit serve --port 8000 --data-dir ./backend-data
    """
    from ftkit.backend import BackendSettings
    from ftkit.backend import serve as run_server
    from ftkit.backend.auth import read_key_file
    from ftkit.runs.endpoint import default_backend_dir

    data_dir = data_dir or default_backend_dir()

    if _on_command_line(ctx, "api_key") or _on_command_line(ctx, "admin_key"):
        typer.echo(ARGV_KEY_WARNING, err=True)
    keys = [*(api_key or []), *(read_key_file(api_key_file) if api_key_file else [])]
    if admin_key_file:
        if admin_key:
            msg = "give the admin key once: --admin-key-file or --admin-key/FTKIT_ADMIN_KEY"
            raise ConfigError(msg)
        admin_key, *more = read_key_file(admin_key_file)
        if more:
            msg = f"the admin key file {admin_key_file} holds {1 + len(more)} keys; keep one"
            raise ConfigError(msg)
    try:
        settings = BackendSettings(
            data_dir=data_dir,
            host=host,
            port=port,
            api_keys=keys,
            admin_key=admin_key,
            enable_faults=enable_faults,
        )
    except ValidationError as exc:
        raise ConfigError(f"cannot serve: {_reasons(exc)}") from None
    typer.echo(
        f"ftkit backend on http://{host}:{port}/v1 ({_describe(settings)}); data in {data_dir}",
        err=True,
    )
    run_server(settings)


def _reasons(exc: ValidationError) -> str:
    texts = []
    for error in exc.errors():
        where = ".".join(map(str, error["loc"]))
        text = error["msg"].removeprefix("Value error, ")
        texts.append(f"{where}: {text}" if where else text)
    return "; ".join(texts)


def _on_command_line(ctx: Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _describe(settings: BackendSettings) -> str:
    mode = f"{len(settings.api_keys)} API key(s)" if settings.api_keys else "open, no key needed"
    if settings.admin_key is not None:
        return f"{mode}; admin endpoints for the admin key"
    if settings.enable_faults:
        return f"{mode}; admin and fault endpoints open to anyone"
    return mode


def register(app: typer.Typer) -> None:
    """Add `ftkit serve` to the ftkit app."""
    app.command("serve")(serve)
