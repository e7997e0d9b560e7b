"""`ftkit serve` takes its keys from a file or the environment, so `ps` never shows them; keys
on the command line still work but earn one warning."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ftkit.cli import app
from tests.backend.conftest import free_port, serve_command

TENANT = "sk-tenant-file-0123456789SECRET"
OTHER = "sk-tenant-env-9876543210SECRET"
ADMIN = "sk-admin-file-5555555555SECRET"
REPO = str(Path(__file__).resolve().parents[2])
WARNING = "warning: keys given on the command line show in the process list"

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc/<pid>/cmdline")


@contextlib.contextmanager
def serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real `ftkit serve` process on a free port, until it answers; yields (process, root)."""
    port = free_port()
    command = serve_command("--port", str(port), "--data-dir", str(tmp_path / "data"), *args)
    environment = {**os.environ, "PYTHONPATH": REPO, **(env or {})}
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(root):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "ftkit serve did not start"
            time.sleep(0.1)
        yield process, root
    finally:
        process.terminate()
        process.wait(10)


def _answers(root: str) -> bool:
    try:
        httpx.get(root + "/v1/models", timeout=1)
    except httpx.TransportError:
        return False
    return True


def command_line(pid: int) -> str:
    """What `ps` shows of a process: its whole argv."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for `key`."""
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.slow
@needs_proc
def test_keys_from_files_work_and_stay_out_of_the_process_list(tmp_path: Path) -> None:
    """--api-key-file (comments, blank lines) and --admin-key-file: argv holds only the paths."""
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# tenants\n{TENANT}\n\n{OTHER}\n", encoding="utf-8")
    admin = tmp_path / "admin.txt"
    admin.write_text(ADMIN + "\n", encoding="utf-8")
    with serving(tmp_path, "--api-key-file", str(keys), "--admin-key-file", str(admin)) as (
        process,
        root,
    ):
        shown = command_line(process.pid)
        assert str(keys) in shown
        for key in (TENANT, OTHER, ADMIN, "SECRET"):
            assert key not in shown
        assert httpx.get(root + "/v1/models", headers=bearer(TENANT)).status_code == 200
        assert httpx.get(root + "/v1/models", headers=bearer(OTHER)).status_code == 200
        assert httpx.get(root + "/v1/models").status_code == 401
        assert httpx.get(root + "/_ftkit/stats", headers=bearer(ADMIN)).status_code == 200
        assert httpx.get(root + "/_ftkit/stats", headers=bearer(TENANT)).status_code == 404
        process.terminate()
        assert WARNING not in process.communicate(timeout=10)[1]


@pytest.mark.slow
@needs_proc
def test_keys_from_the_environment_stay_out_of_the_process_list(tmp_path: Path) -> None:
    """FTKIT_API_KEYS (space-separated) and FTKIT_ADMIN_KEY: no key in argv, no warning."""
    env = {"FTKIT_API_KEYS": f"{TENANT} {OTHER}", "FTKIT_ADMIN_KEY": ADMIN}
    with serving(tmp_path, env=env) as (process, root):
        assert "SECRET" not in command_line(process.pid)
        assert httpx.get(root + "/v1/files", headers=bearer(OTHER)).status_code == 200
        assert httpx.get(root + "/_ftkit/settings", headers=bearer(ADMIN)).status_code == 200
        process.terminate()
        assert WARNING not in process.communicate(timeout=10)[1]


@pytest.mark.slow
@needs_proc
def test_keys_on_the_command_line_work_with_one_warning(tmp_path: Path) -> None:
    """--api-key and --admin-key on argv: accepted, and stderr warns exactly once."""
    with serving(tmp_path, "--api-key", TENANT, "--admin-key", ADMIN) as (process, root):
        assert httpx.get(root + "/v1/models", headers=bearer(TENANT)).status_code == 200
        process.terminate()
        assert process.communicate(timeout=10)[1].count(WARNING) == 1


@pytest.mark.parametrize(
    ("contents", "args", "message"),
    [
        (None, ("--api-key-file", "{missing}"), "cannot read the key file {missing}"),
        ("# nothing\n\n", ("--api-key-file", "{file}"), "the key file {file} holds no key"),
        ("sk-a sk-b\n", ("--api-key-file", "{file}"), "{file}, line 1: a key cannot contain"),
        (f"{TENANT}\n", ("--api-key-file", "{file}", "--admin-key-file", "{file}"), "differ"),
        (None, ("--enable-faults", "--api-key-file", "{missing}"), "cannot read the key file"),
    ],
)
def test_bad_key_sources_fail_with_one_clear_line(
    tmp_path: Path, contents: str | None, args: tuple[str, ...], message: str
) -> None:
    """A missing, empty or malformed key file, or an admin key that is a tenant's: exit 2 with
    one error line naming the file, no traceback, no key in the output."""
    file, missing = tmp_path / "keys.txt", tmp_path / "absent.txt"
    if contents is not None:
        file.write_text(contents, encoding="utf-8")
    fill = {"file": str(file), "missing": str(missing)}
    command = ["serve", "--data-dir", str(tmp_path), *(a.format(**fill) for a in args)]
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert message.format(**fill) in done.stderr
    assert "Traceback" not in done.output and TENANT not in done.output
