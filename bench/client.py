"""Client benchmark, against the embedded backend on loopback, in one run:

1. completions throughput: ftkit's AsyncClient vs the official SDK's AsyncOpenAI, same backend,
   same concurrency, same requests (alternating rounds, best and median of each);
2. following a ~1,000-event job: HTTP requests and bytes the follower spends, and how many event
   objects it downloaded per distinct event (target: 1.0), for ftkit (jobs polling and legacy
   SSE) and for the SDK's usual loop (poll `list_events` with auto-pagination);
3. following a job while ~35% of its requests fail (503): requests and seconds against the
   same follow without faults.

Run: .venv/bin/python bench/client.py [--requests 2000] [--concurrency 32] [--parts 1,2,3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ftkit.api import AsyncClient, Client, JobSpec
from ftkit.backend import BackendSettings, runner, running_backend
from ftkit.config import ProviderConfig

MODEL = "babbage-002"


async def _drive(n: int, concurrency: int, one) -> float:
    """Requests per second for `n` calls of `one(i)` with `concurrency` in flight."""
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def throughput(url: str, n: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    from openai import AsyncOpenAI

    prompts = [f"Ticket {i}: my order has not arrived\n\n###\n\n" for i in range(n)]
    ftkit = AsyncClient(ProviderConfig(kind="local"), base_url=url)
    sdk = AsyncOpenAI(base_url=url, api_key="unused", max_retries=2)

    async def ftkit_one(i: int) -> None:
        await ftkit.completions.create(MODEL, [prompts[i]], max_tokens=1, logprobs=5)

    async def sdk_one(i: int) -> None:
        await sdk.completions.create(
            model=MODEL, prompt=prompts[i], max_tokens=1, logprobs=5, temperature=0
        )

    results: dict[str, list[float]] = {"ftkit AsyncClient": [], "openai AsyncOpenAI": []}
    await _drive(min(n, 200), concurrency, ftkit_one)  # warm-up both pools and the server
    await _drive(min(n, 200), concurrency, sdk_one)
    for r in range(rounds):
        order = [("ftkit AsyncClient", ftkit_one), ("openai AsyncOpenAI", sdk_one)]
        for name, one in order if r % 2 == 0 else order[::-1]:
            results[name].append(await _drive(n, concurrency, one))
    await ftkit.close()
    await sdk.close()
    return results


def _training_file(path: Path, n: int) -> Path:
    labels = [" billing", " shipping", " account", " refund"]
    with path.open("w") as out:
        for i in range(n):
            label = labels[i % 4]
            out.write(
                json.dumps(
                    {
                        "prompt": f"ticket {i} about{label} issue\n\n###\n\n",
                        "completion": label + "\n",
                    }
                )
                + "\n"
            )
    return path


class EventCounter:
    """Counts event objects in event-list and SSE responses (an httpx response hook)."""

    def __init__(self) -> None:
        self.objects = 0

    def __call__(self, response: httpx.Response) -> None:
        if "/events" not in response.url.path:
            return
        response.read()
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            self.objects += sum(
                1
                for line in response.text.splitlines()
                if line.startswith("data:") and "[DONE]" not in line
            )
        else:
            self.objects += len(response.json().get("data") or [])


def follow_cost(
    url: str,
    admin: httpx.Client,
    dialect: str,
    examples: int,
    epochs: int,
    step_s: float,
    tmp: Path,
    how: str,
    faults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a job, follow it to the end (with `faults` injected while following), return
    requests/bytes/event objects spent."""
    admin.post("/_ftkit/settings", json={"step_seconds": step_s})
    provider = ProviderConfig(kind="local", dialect=dialect)
    with Client(provider, base_url=url) as setup:
        train = setup.files.upload_or_reuse(_training_file(tmp / "train.jsonl", examples))
        spec = JobSpec(model=MODEL, training_file=train.id, n_epochs=epochs, batch_size=1)
        job = setup.jobs.create(spec, run_key=f"bench-{dialect}-{how}-{time.time()}")
    admin.delete("/_ftkit/stats")
    if faults:
        admin.post("/_ftkit/faults", json=faults)
    counter = EventCounter()
    started = time.perf_counter()
    if how == "ftkit":
        http = httpx.Client(event_hooks={"response": [counter]})
        with Client(provider, base_url=url, http_client=http) as client:
            events = sum(
                1 for _ in client.jobs.follow(job.id, poll_interval_s=0.2, max_poll_interval_s=1.0)
            )
    else:  # the SDK's usual loop: poll, list all events (auto-paginated), print the new ones
        from openai import OpenAI

        http = httpx.Client(event_hooks={"response": [counter]})
        sdk = OpenAI(base_url=url, api_key="unused", http_client=http)
        seen: set[str] = set()
        while True:
            status = sdk.fine_tuning.jobs.retrieve(job.id).status
            for event in sdk.fine_tuning.jobs.list_events(job.id, limit=100):
                seen.add(event.id)
            if status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.2)
        events = len(seen)
    elapsed = time.perf_counter() - started
    admin.delete("/_ftkit/faults")
    stats = admin.get("/_ftkit/stats").json()
    return {
        "follower": f"{how} ({dialect})",
        "events": events,
        "requests": stats["total"],
        "bytes_out": stats["bytes_out"],
        "event_objects_fetched": counter.objects,
        "objects_per_event": counter.objects / max(events, 1),
        "seconds": elapsed,
        "failed_requests": sum(1 for r in stats["requests"] if r["status"] >= 500),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=248, help="training examples")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--step-seconds", type=float, default=0.004)
    parser.add_argument("--fault-rate", type=float, default=0.35, help="share of 503s in 3.")
    parser.add_argument("--fault-examples", type=int, default=100, help="job size in 3.")
    parser.add_argument("--fault-step-seconds", type=float, default=0.05)
    parser.add_argument(
        "--parts", default="1,2,3", help="which measurements to run, e.g. 3 (comma-separated)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    # one `metrics` event per training step (the backend thins them to ~100 per job by default),
    # so the followed job has ~1,000 events; the runner lives in this process
    runner.METRICS_EVENTS_PER_JOB = 100_000
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_backend(BackendSettings(data_dir=Path(tmp) / "backend", enable_faults=True)) as url,
    ):
        print(f"embedded backend at {url}")
        admin = httpx.Client(base_url=url.removesuffix("/v1"))
        if "1" in parts:
            completions_throughput(url, args)
        if "2" in parts:
            follow_costs(url, admin, args, Path(tmp))
        if "3" in parts:
            follow_under_faults(url, admin, args, Path(tmp))


def completions_throughput(url: str, args: argparse.Namespace) -> None:
    """Part 1: ftkit's AsyncClient against the official SDK on completions."""
    print(
        f"\n1. completions, {args.requests} single-prompt requests, concurrency "
        f"{args.concurrency}, {args.rounds} rounds (logprobs=5, max_tokens=1)"
    )
    rates = asyncio.run(throughput(url, args.requests, args.concurrency, args.rounds))
    for name, values in rates.items():
        print(
            f"   {name:20s} median {statistics.median(values):7.0f} req/s   best "
            f"{max(values):7.0f} req/s   rounds {', '.join(f'{v:.0f}' for v in values)}"
        )
    ratio = statistics.median(rates["ftkit AsyncClient"]) / statistics.median(
        rates["openai AsyncOpenAI"]
    )
    print(f"   ftkit / openai = {ratio:.2f}x")


def follow_costs(url: str, admin: httpx.Client, args: argparse.Namespace, tmp: Path) -> None:
    """Part 2: what following a ~1,000-event job costs each follower."""
    print(
        f"\n2. following a job of {args.examples} examples x {args.epochs} epochs "
        f"(batch 1), one step every {args.step_seconds * 1000:.0f} ms"
    )
    followers = [("jobs", "ftkit"), ("legacy", "ftkit"), ("jobs", "openai-sdk-poll")]
    job_size = (args.examples, args.epochs, args.step_seconds)
    rows = [
        follow_cost(url, admin, dialect, *job_size, tmp, follower)
        for dialect, follower in followers
    ]
    print(
        f"   {'follower':24s} {'events':>7s} {'requests':>9s} {'bytes out':>11s} "
        f"{'objects/event':>14s} {'seconds':>8s}"
    )
    for row in rows:
        print(
            f"   {row['follower']:24s} {row['events']:7d} {row['requests']:9d} "
            f"{row['bytes_out']:11d} {row['objects_per_event']:14.2f} {row['seconds']:8.1f}"
        )


def follow_under_faults(url: str, admin: httpx.Client, args: argparse.Namespace, tmp: Path) -> None:
    """Part 3: one follow clean and one with a share of the job's requests answered 503."""
    plan = {
        "error_rate": args.fault_rate,
        "error_status": 503,
        "path_pattern": "^/v1/fine_tuning/jobs/",
        "seed": 7,
    }
    print(
        f"\n3. following a job of {args.fault_examples} examples x 1 epoch (one step every "
        f"{args.fault_step_seconds * 1000:.0f} ms), clean and with {args.fault_rate:.0%} of its "
        "requests answered 503"
    )
    print(
        f"   {'run':8s} {'events':>7s} {'requests':>9s} {'failed':>7s} {'objects/event':>14s} "
        f"{'seconds':>8s}"
    )
    job_size = (args.fault_examples, 1, args.fault_step_seconds)
    for label, faults in (("clean", None), ("faults", plan)):
        row = follow_cost(url, admin, "jobs", *job_size, tmp, "ftkit", faults=faults)
        print(
            f"   {label:8s} {row['events']:7d} {row['requests']:9d} {row['failed_requests']:7d} "
            f"{row['objects_per_event']:14.2f} {row['seconds']:8.1f}"
        )


if __name__ == "__main__":
    main()
