"""Evaluation benchmark, against the embedded backend on loopback, in one run:

1. predictions/s of `ftkit.evaluate.evaluate_run` on 2,000 held-out examples of a generated
   4-class classification set (batched prompts, bounded concurrency, logprobs → class
   probabilities, predictions.jsonl written) — fine-tuned model and baseline timed separately;
2. the peer: the official SDK (AsyncOpenAI) sending the same prompts with the same batching and
   concurrency (raw answers only), and the common one-prompt-per-request loop with the SDK;
3. the report: build_report (metrics + curves) and report_run (build + 6 plots + json/md/html).

Targets: ≥ 1,000 predictions/s, report < 5 s.
Run: .venv/bin/python bench/evaluate.py [--examples 2000] [--batch-size 50] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from ftkit.api import AsyncClient, Client, JobSpec
from ftkit.backend import BackendSettings, running_backend
from ftkit.config import ExperimentConfig
from ftkit.data.prepare import prepare_dataset
from ftkit.evaluate import evaluate_run
from ftkit.evaluate.runner import load_examples, make_plan
from ftkit.report import build_report, report_run

TOPICS = {
    " billing": ["invoice", "charged", "refund", "payment", "price", "receipt", "card"],
    " technical": ["crash", "error", "bug", "login", "slow", "update", "sync"],
    " shipping": ["delivery", "parcel", "courier", "address", "tracking", "late", "box"],
    " account": ["password", "email", "profile", "merge", "delete", "username", "team"],
}
FILLER = ["please", "help", "today", "again", "my", "the", "order", "still", "urgent", "thanks"]


def write_dataset(path: Path, n: int, seed: int = 1) -> None:
    """n tickets: one topic word among filler, often a second topic's word, 8% wrong labels."""
    rng = random.Random(seed)
    labels = list(TOPICS)
    with path.open("w") as out:
        for i in range(n):
            label = labels[i % len(labels)]
            words = rng.sample(TOPICS[label], 1) + rng.sample(FILLER, 4)
            if rng.random() < 0.5:
                words.append(rng.choice(TOPICS[rng.choice(labels)]))
            rng.shuffle(words)
            if rng.random() < 0.08:
                label = rng.choice(labels)
            prompt = f"Ticket {i}: {' '.join(words)}\n\n###\n\n"
            out.write(json.dumps({"prompt": prompt, "completion": label + "\n"}) + "\n")


async def sdk_batched(url: str, model: str, prompts: list[str], batch: int, conc: int) -> float:
    """Seconds for the SDK to send the same prompts in the same batches and concurrency."""
    from openai import AsyncOpenAI

    gate = asyncio.Semaphore(conc)
    async with AsyncOpenAI(base_url=url, api_key="bench", max_retries=2) as sdk:

        async def one(chunk: list[str]) -> None:
            async with gate:
                await sdk.completions.create(
                    model=model, prompt=chunk, max_tokens=2, temperature=0, logprobs=5, stop="\n"
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(prompts[i : i + batch]) for i in range(0, len(prompts), batch)))
        return time.perf_counter() - started


async def sdk_one_by_one(url: str, model: str, prompts: list[str]) -> float:
    """Seconds for the usual loop: one prompt per request, one request at a time."""
    from openai import AsyncOpenAI

    async with AsyncOpenAI(base_url=url, api_key="bench") as sdk:
        started = time.perf_counter()
        for prompt in prompts:
            await sdk.completions.create(
                model=model, prompt=prompt, max_tokens=2, temperature=0, logprobs=5, stop="\n"
            )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="evaluation examples")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ftkit-bench-evaluate-"))
    total = args.examples * 2
    write_dataset(tmp / "tickets.jsonl", total)
    config = ExperimentConfig.model_validate(
        {
            "name": "bench",
            "data": {
                "source": str(tmp / "tickets.jsonl"),
                "split": {"train": 0.45, "validation": 0.05, "test": 0.5},
            },
            "job": {"model": "babbage-002", "seed": 1, "hyperparameters": {"n_epochs": 1}},
            "evaluate": {"batch_size": args.batch_size, "concurrency": args.concurrency},
            "runs_dir": str(tmp / "runs"),
        }
    )
    run_dir = tmp / "runs" / "bench" / "run1"
    prepared = prepare_dataset(config.data, config.job.model, run_dir / "prepared")
    print(
        f"data: {prepared.splits['train'].examples} train, {prepared.splits['test'].examples} "
        f"test examples, classes {[c.strip() for c in prepared.classes]}"
    )

    with running_backend(BackendSettings(data_dir=tmp / "backend")) as url:
        with Client(base_url=url, api_key="bench") as client:
            file = client.files.upload(run_dir / "prepared" / "train.jsonl")
            client.files.wait_processed(file.id)
            started = time.perf_counter()
            job = client.jobs.create(JobSpec.from_config(config.job, file.id, None), "bench")
            job = client.jobs.wait(job.id, poll_interval_s=0.1, max_poll_interval_s=0.5)
            assert job.fine_tuned_model, job.error
            print(f"trained {job.fine_tuned_model} in {time.perf_counter() - started:.1f} s")
            results = run_dir / "results" / f"{job.result_files[0]}.csv"
            results.parent.mkdir(exist_ok=True)
            results.write_bytes(client.files.content(job.result_files[0]))
            (run_dir / "job.json").write_text(job.model_dump_json())
        model = job.fine_tuned_model

        async def ftkit_round() -> tuple[float, float, float]:
            async with AsyncClient(base_url=url, api_key="bench") as client:
                result = await evaluate_run(run_dir, client, config, model)
            return result.seconds, result.baseline_seconds or 0.0, result.metrics["accuracy"]

        prompts = [e.prompt for e in load_examples(run_dir, prepared, "test")]
        n = len(prompts)
        assert make_plan(prepared, config).max_tokens == 2
        ours, base, sdk = [], [], []
        for _ in range(args.rounds):
            seconds, baseline_seconds, accuracy = asyncio.run(ftkit_round())
            ours.append(seconds)
            base.append(baseline_seconds)
            sdk.append(
                asyncio.run(sdk_batched(url, model, prompts, args.batch_size, args.concurrency))
            )
        single_n = min(300, n)
        single = asyncio.run(sdk_one_by_one(url, model, prompts[:single_n]))

    print(
        f"\npredictions on {n} examples (batch {args.batch_size}, concurrency "
        f"{args.concurrency}, logprobs 5), {args.rounds} rounds, best / median:"
    )
    rate = lambda s: n / s  # noqa: E731
    print(
        f"  ftkit evaluate_run, fine-tuned : {rate(min(ours)):8.0f} / "
        f"{rate(statistics.median(ours)):8.0f} predictions/s   (accuracy {accuracy:.3f})"
    )
    print(
        f"  ftkit evaluate_run, baseline   : {rate(min(base)):8.0f} / "
        f"{rate(statistics.median(base)):8.0f} predictions/s"
    )
    print(
        f"  peer: AsyncOpenAI same batches : {rate(min(sdk)):8.0f} / "
        f"{rate(statistics.median(sdk)):8.0f} predictions/s   (raw answers only)"
    )
    print(
        f"  peer: SDK one prompt/request   : {single_n / single:8.0f} predictions/s   "
        f"({single_n} prompts, sequential)"
    )
    print(f"  target ≥ 1000 predictions/s: {'met' if rate(min(ours)) >= 1000 else 'MISSED'}")

    builds, full = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        build_report(run_dir, config)
        builds.append(time.perf_counter() - started)
        started = time.perf_counter()
        report_run(run_dir, config, promote=False)
        full.append(time.perf_counter() - started)
    print(f"\nreport of {n} examples (+ baseline), best / median:")
    print(
        f"  build_report (metrics, curves)         : {min(builds):.2f} / "
        f"{statistics.median(builds):.2f} s"
    )
    print(
        f"  report_run (build + plots + json/md/html): {min(full):.2f} / "
        f"{statistics.median(full):.2f} s"
    )
    print(f"  target < 5 s: {'met' if max(full) < 5 else 'MISSED'}")
    print(f"  files: {run_dir / 'report.html'}")


if __name__ == "__main__":
    main()
