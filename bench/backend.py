"""Benchmark of the embedded backend (`ftkit serve` in its own process, as users run it).

Prints:
- training: wall time and examples/s of a 2,000-example, 4-epoch classification job (legacy
  dialect with classification metrics), from create to `succeeded`, and from `Fine-tune started`;
- completions at concurrency 32: single prompts (requests/s) and arrays of 100 prompts
  (predictions/s), with latency p50/p99;
- peer: the same fine-tuned model called in-process (no HTTP), the ceiling the server can reach.

Targets on a 2-core machine: job < 10 s, >= 300 single-prompt completions/s, >= 5,000
predictions/s with arrays. Run: .venv/bin/python bench/backend.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

N_EXAMPLES = 2000
N_EPOCHS = 4
CONCURRENCY = 32
SINGLE_REQUESTS = 3000
ARRAY_REQUESTS = 200
ARRAY_SIZE = 100
SEPARATOR = "\n\n###\n\n"
TOPICS = {
    "billing": ("invoice", "charge", "refund", "payment", "card"),
    "shipping": ("parcel", "delivery", "courier", "tracking", "late"),
    "account": ("password", "login", "email", "profile", "locked"),
    "product": ("broken", "size", "colour", "quality", "manual"),
}
FILLER = ("please", "help", "my", "the", "is", "not", "since", "yesterday", "order", "hello")


def dataset(n: int, seed: int) -> list[dict[str, str]]:
    """Support tickets in 4 classes, learnable from their keywords (10% label noise)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(list(TOPICS))
        words = rng.sample(FILLER, 5) + rng.sample(TOPICS[label], 2)
        rng.shuffle(words)
        shown = label if rng.random() > 0.1 else rng.choice(list(TOPICS))
        rows.append({"prompt": " ".join(words) + SEPARATOR, "completion": f" {shown}\n"})
    return rows


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`ftkit serve` in a subprocess; returns it and its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ftkit.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/models").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the backend did not start")


def train(api: httpx.Client, path: Path, valid: Path) -> tuple[str, float, float]:
    """Run the training job; returns (model, wall seconds, training seconds)."""
    files = [
        api.post("/files", files={"file": (p.name, p.read_bytes())}, data={"purpose": "fine-tune"})
        for p in (path, valid)
    ]
    train_id, valid_id = (f.json()["id"] for f in files)
    started = time.perf_counter()
    job = api.post(
        "/fine-tunes",
        json={
            "training_file": train_id,
            "validation_file": valid_id,
            "model": "ada",
            "n_epochs": N_EPOCHS,
            "compute_classification_metrics": True,
            "classification_n_classes": len(TOPICS),
        },
    ).json()
    training_started = None
    while True:
        state = api.get(f"/fine-tunes/{job['id']}").json()
        if training_started is None and state["status"] == "running":
            training_started = time.perf_counter()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.02)
    finished = time.perf_counter()
    if state["status"] != "succeeded":
        raise SystemExit(f"training job ended {state['status']}: {state['events'][-2:]}")
    return state["fine_tuned_model"], finished - started, finished - (training_started or started)


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client connection for load generation.

    httpx's async client spends ~3 ms of CPU per request on this machine, twice what the server
    spends answering a completion, so with it the benchmark would mostly measure its client.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict[str, object]) -> bytes:
        """POST a JSON body; returns the response body (raises on a non-200 status)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        if b" 200 " not in status_line:
            raise RuntimeError(f"{status_line!r}: {data[:200]!r}")
        return data

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()


async def load(url: str, model: str, prompts: list[str], batch: int, requests: int) -> list[float]:
    """`requests` completions at CONCURRENCY in flight; returns each request's latency."""
    parsed = httpx.URL(url)
    latencies: list[float] = []
    pending = list(range(requests))

    async def worker() -> None:
        connection = RawConnection(parsed.host, parsed.port or 80)
        try:
            while pending:
                i = pending.pop()
                chunk = [prompts[(i * batch + k) % len(prompts)] for k in range(batch)]
                body: dict[str, object] = {
                    "model": model,
                    "prompt": chunk[0] if batch == 1 else chunk,
                }
                body |= {"max_tokens": 1, "temperature": 0, "logprobs": 1}
                sent = time.perf_counter()
                await connection.post_json(parsed.path + "/completions", body)
                latencies.append(time.perf_counter() - sent)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies


def report_load(name: str, latencies: list[float], seconds: float, batch: int) -> None:
    """Print throughput and latency percentiles."""
    cuts = statistics.quantiles(latencies, n=100)
    per_s = len(latencies) * batch / seconds
    unit = "completions/s" if batch == 1 else "predictions/s"
    print(
        f"{name:<28} {per_s:>9,.0f} {unit:<14} p50 {cuts[49] * 1000:6.1f} ms   "
        f"p99 {cuts[98] * 1000:6.1f} ms   ({len(latencies)} requests)"
    )


def in_process_peer(data_dir: Path, model: str, prompts: list[str]) -> None:
    """The same model loaded in this process and called without HTTP."""
    import sqlite3

    from ftkit.backend.training import load_model

    db = sqlite3.connect(data_dir / "ftkit-backend.sqlite3")
    [(doc,)] = db.execute("SELECT doc FROM models WHERE id = ?", (model,)).fetchall()
    loaded = load_model(Path(json.loads(doc)["path"]))
    for batch, rounds in ((1, 2000), (ARRAY_SIZE, 100)):
        started = time.perf_counter()
        for i in range(rounds):
            chunk = [prompts[(i * batch + k) % len(prompts)] for k in range(batch)]
            loaded.complete(chunk, max_tokens=1, temperature=0, logprobs=1)
        per_s = rounds * batch / (time.perf_counter() - started)
        label = "peer in-process, single" if batch == 1 else f"peer in-process, arrays of {batch}"
        print(f"{label:<28} {per_s:>9,.0f} predictions/s")


def main() -> None:
    """Run every measurement and print the figures."""
    print(f"ftkit backend benchmark  (cpus: {os.cpu_count()}; other processes may share them)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = dataset(N_EXAMPLES + 400, seed=0)
        train_path, valid_path = root / "train.jsonl", root / "valid.jsonl"
        train_path.write_text("".join(json.dumps(r) + "\n" for r in rows[:N_EXAMPLES]))
        valid_path.write_text("".join(json.dumps(r) + "\n" for r in rows[N_EXAMPLES:]))
        prompts = [r["prompt"] for r in rows[N_EXAMPLES:]]
        server, url = start_server(root / "data")
        try:
            with httpx.Client(base_url=url, timeout=120) as api:
                model, wall, training = train(api, train_path, valid_path)
            examples = N_EXAMPLES * N_EPOCHS
            print(
                f"training {N_EXAMPLES} examples x {N_EPOCHS} epochs: wall {wall:.2f} s "
                f"(create → succeeded; target < 10 s), training {training:.2f} s, "
                f"{examples / training:,.0f} examples/s"
            )
            for name, batch, requests in (
                ("completions, single prompt", 1, SINGLE_REQUESTS),
                (f"completions, arrays of {ARRAY_SIZE}", ARRAY_SIZE, ARRAY_REQUESTS),
            ):
                asyncio.run(load(url, model, prompts, batch, 200))  # warm-up
                started = time.perf_counter()
                latencies = asyncio.run(load(url, model, prompts, batch, requests))
                report_load(name, latencies, time.perf_counter() - started, batch)
            in_process_peer(root / "data", model, prompts)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
