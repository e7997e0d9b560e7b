"""`ftkit files`: list, upload, get, delete and download files of the provider's files API.

The provider options (`--config`, `--base-url`, `--provider`, `--dialect`, `--api-key-env`) come
right after the group name and are shared with `ftkit jobs`, e.g.
`ftkit files --base-url http://127.0.0.1:8000/v1 list`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftkit.cli._common import (
    FormatOpt,
    GroupOptionsAnywhere,
    OutputFormat,
    print_items,
    print_json,
)

if TYPE_CHECKING:
    from ftkit.api import Client, FileObject
    from ftkit.config import ProviderConfig

files_app = typer.Typer(
    cls=GroupOptionsAnywhere, help="Files of the fine-tuning API: upload, list, download, delete."
)


def provider_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Take the provider section of this experiment config."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="FTKIT_BASE_URL", help="API base URL ending in /v1."),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", envvar="FTKIT_PROVIDER", help="local|openai|azure|compatible."),
    ] = None,
    dialect: Annotated[
        str | None, typer.Option("--dialect", envvar="FTKIT_DIALECT", help="jobs|legacy.")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Name of the environment variable holding the key."),
    ] = None,
) -> None:
    """Pick the provider: a config's provider section, adjusted by the flags."""
    ctx.obj = {
        "config": config,
        "base_url": base_url,
        "kind": provider,
        "dialect": dialect,
        "api_key_env": api_key_env,
    }


def config_section(ctx: typer.Context, name: str) -> dict[str, Any]:
    """One section of the `--config` file (empty without one)."""
    import yaml

    from ftkit.errors import ConfigError

    path = (ctx.obj or {}).get("config")
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc}).") from None
    section = loaded.get(name) if isinstance(loaded, dict) else None
    return dict(section) if isinstance(section, dict) else {}


def provider_config(ctx: typer.Context) -> ProviderConfig:
    """The ProviderConfig the group options describe."""
    from pydantic import ValidationError

    from ftkit.config import ProviderConfig
    from ftkit.errors import ConfigError

    options: dict[str, Any] = ctx.obj or {}
    raw = config_section(ctx, "provider")
    for key in ("base_url", "kind", "dialect", "api_key_env"):
        if options.get(key) is not None:
            raw[key] = options[key]
    if raw.get("base_url") and "kind" not in raw:
        raw["kind"] = "compatible"
    try:
        return ProviderConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid provider options: {problems}.") from None


@contextmanager
def open_client(ctx: typer.Context) -> Iterator[Client]:
    """A Client for the provider the group options describe; for `local` without a URL, the
    embedded backend on its default state folder (the one `ftkit run` uses) runs meanwhile."""
    from ftkit.api import Client
    from ftkit.runs.endpoint import provider_base_url

    provider = provider_config(ctx)
    with provider_base_url(provider) as url, Client(provider, base_url=url) as client:
        yield client


def _file_line(item: FileObject) -> str:
    size = "-" if item.bytes is None else str(item.bytes)
    return f"{item.id}\t{item.status or '-'}\t{size}\t{item.purpose or '-'}\t{item.filename}"


@files_app.command("list")
def list_files(
    ctx: typer.Context,
    purpose: Annotated[str | None, typer.Option(help="Only files of this purpose.")] = None,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """List files (id, status, bytes, purpose, filename).

    Example: ftkit files --config configs/openai.yaml list --format json
    """
    with open_client(ctx) as client:
        items = client.files.list(purpose)
    print_items(items, format, _file_line)


@files_app.command("upload")
def upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file to upload.")],
    purpose: Annotated[str, typer.Option(help="The file's purpose.")] = "fine-tune",
    reuse: Annotated[
        bool,
        typer.Option(help="Reuse an identical upload (same sha256 and size) instead of a new one."),
    ] = True,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """Upload a file, with progress on stderr.

    Example: ftkit files upload train.jsonl
    """

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            percent = 100 * done // max(total, 1)
            typer.echo(
                f"\rUpload progress: {percent:3d}% ({done}/{total} bytes)", err=True, nl=False
            )

    with open_client(ctx) as client:
        upload_fn = client.files.upload_or_reuse if reuse else client.files.upload
        item = upload_fn(path, purpose, progress)
    if sys.stderr.isatty():
        typer.echo("", err=True)
    if format is OutputFormat.json:
        print_json(item)
        return
    typer.echo(f"Uploaded file from {path}: {item.id}")


@files_app.command("get")
def get(ctx: typer.Context, file_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Show one file's metadata.

    Example: ftkit files get file-abc123
    """
    with open_client(ctx) as client:
        item = client.files.get(file_id)
    if format is OutputFormat.json:
        print_json(item)
        return
    typer.echo(_file_line(item))


@files_app.command("delete")
def delete(ctx: typer.Context, file_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Delete a file.

    Example: ftkit files delete file-abc123
    """
    with open_client(ctx) as client:
        deleted = client.files.delete(file_id)
    if format is OutputFormat.json:
        print_json({"id": file_id, "deleted": deleted})
        return
    typer.echo(f"Deleted {file_id}." if deleted else f"{file_id} was not deleted.")


@files_app.command("download")
def download(
    ctx: typer.Context,
    file_id: str,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File or existing folder to write to (default: its stored name, here).",
        ),
    ] = None,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """Download a file's content (streamed to disk).

    Example: ftkit files download file-abc123 -o results.csv
    """
    with open_client(ctx) as client:
        path = client.files.download(file_id, download_path(client, file_id, output))
    if format is OutputFormat.json:
        print_json({"id": file_id, "path": str(path), "bytes": path.stat().st_size})
        return
    typer.echo(f"Downloaded {file_id} to {path}")


def download_path(client: Client, file_id: str, output: Path | None) -> Path:
    """`output` when it names a file; else the file's stored name (a plain file name, checked)
    inside `output` or the current folder."""
    if output is not None and not output.is_dir():
        return output
    from ftkit.api.local_files import path_inside
    from ftkit.errors import APIError

    name = client.files.get(file_id).filename
    try:
        return path_inside(output or Path("."), name, f"file {file_id}")
    except APIError as exc:
        raise APIError(f"{exc} Choose where to write it with --output PATH.") from None


def register(app: typer.Typer) -> None:
    """Add `ftkit files` to the ftkit app."""
    files_app.callback()(provider_options)
    app.add_typer(files_app, name="files")
