"""Opt-in fixes, the seeded split and its manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ftkit.config import SplitConfig
from ftkit.data.splitting import TEST, TRAIN, VALIDATION, assign_splits

from .conftest import Prepare
from .prep_helpers import finding, jsonl, pc_lines

SEP = "\n\n###\n\n"


def written(prepared: object) -> list[dict[str, str]]:
    """Every written example, all splits."""
    rows = []
    for info in prepared.splits.values():  # type: ignore[attr-defined]
        rows += [json.loads(line) for line in Path(info.path).read_text().splitlines()]
    return rows


def test_input_file_is_never_changed(prepare: Prepare, tmp_path: Path) -> None:
    """Fixes change the outputs only; the source keeps its bytes."""
    content = jsonl(
        [{"prompt": f"q {i}", "completion": "yes" if i % 2 else "no"} for i in range(30)]
    )
    prepare(content, fixes=["add-separator", "add-space", "lowercase"])
    assert (tmp_path / "data.jsonl").read_bytes() == content


def test_text_fixes_and_their_counts(prepare: Prepare) -> None:
    """add-separator, add-space and strip-prompt-prefix change every example and say how many."""
    rows = [
        {"prompt": f"Classify the review: {i}", "completion": "yes" if i % 2 else "no"}
        for i in range(30)
    ]
    prepared = prepare(rows, fixes=["add-separator", "add-space", "strip-prompt-prefix"])
    counts = {fix.name: fix.count for fix in prepared.fixes_applied}
    assert counts == {"add-separator": 30, "add-space": 30, "strip-prompt-prefix": 30}
    out = written(prepared)
    assert all(r["prompt"].endswith(" ->") and not r["prompt"].startswith("Classify") for r in out)
    assert {r["completion"] for r in out} == {" yes", " no"}
    assert prepared.prompt_separator == " ->"
    assert finding(prepared, "no_prompt_separator").fixed_by == "add-separator"


def test_add_ending_and_strip_completion_prefix(prepare: Prepare) -> None:
    """Completions lose their shared prefix (keeping one space) and gain the stop sequence."""
    rows = [{"prompt": f"q {i}{SEP}", "completion": f" Answer: {i} items"} for i in range(30)]
    prepared = prepare(rows, fixes=["add-ending", "strip-completion-prefix"])
    out = written(prepared)
    assert {r["completion"] for r in out} == {f" {i} items\n" for i in range(30)}
    assert prepared.completion_stop == "\n"


def test_drop_invalid_duplicates_and_long(prepare: Prepare) -> None:
    """Dropping fixes leave out exactly the reported lines and report their counts."""
    rows = pc_lines(30)
    long = {"prompt": "hello " * 2100 + SEP, "completion": " yes"}
    content = [*rows, "{bad", rows[3], long]
    prepared = prepare(content, model="ada", fixes=["drop-invalid", "drop-duplicates", "drop-long"])
    counts = {fix.name: fix.count for fix in prepared.fixes_applied}
    assert counts == {"drop-invalid": 1, "drop-duplicates": 1, "drop-long": 1}
    assert prepared.errors == 0
    assert sum(s.examples for s in prepared.splits.values()) == 30


def test_split_is_seeded_and_deterministic(prepare: Prepare) -> None:
    """The same seed gives the same files; another seed another assignment."""
    rows = pc_lines(200)
    first = prepare(rows)
    hashes = {name: info.sha256 for name, info in first.splits.items()}
    again = prepare(rows)
    assert {name: info.sha256 for name, info in again.splits.items()} == hashes
    other = prepare(rows, split=SplitConfig(seed=7))
    assert other.splits["train"].sha256 != hashes["train"]


def test_manifest_matches_the_files(prepare: Prepare) -> None:
    """Counts, label counts and sha256 in the manifest describe the written files."""
    prepared = prepare(pc_lines(200))
    saved = json.loads((Path(prepared.out_dir) / "validation.json").read_text())
    for name, info in prepared.splits.items():
        data = Path(info.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info.sha256 == saved["splits"][name]["sha256"]
        assert data.count(b"\n") == info.examples
        assert sum(info.label_counts.values()) == info.examples
    assert [s.examples for s in prepared.splits.values()] == [160, 20, 20]


def test_stratified_split_keeps_class_shares(prepare: Prepare) -> None:
    """Each split has the classes in the data's proportions (rounded)."""
    labels = (" a",) * 3 + (" b",)
    prepared = prepare(pc_lines(400, labels=labels))
    assert prepared.stratified
    assert prepared.splits["validation"].label_counts == {" a": 30, " b": 10}
    assert prepared.splits["test"].label_counts == {" a": 30, " b": 10}


def test_identical_prompts_stay_in_one_split(prepare: Prepare) -> None:
    """Examples sharing a prompt never land in two splits."""
    rows = [{"prompt": f"q {i % 50}{SEP}", "completion": f" answer {i}\n"} for i in range(300)]
    prepared = prepare(rows)
    seen: dict[str, str] = {}
    for name, info in prepared.splits.items():
        for line in Path(info.path).read_text().splitlines():
            prompt = json.loads(line)["prompt"]
            assert seen.setdefault(prompt, name) == name


def test_assign_splits_sizes_and_groups() -> None:
    """assign_splits gives exact stratum shares and one split per prompt hash."""
    keys = np.arange(1000, dtype=np.uint64) // np.uint64(2)  # pairs of identical prompts
    codes = assign_splits(keys, None, (0.8, 0.1, 0.1), seed=1)
    assert [(codes == c).sum() for c in (TRAIN, VALIDATION, TEST)] == [800, 100, 100]
    assert (codes[0::2] == codes[1::2]).all()


def test_parallel_and_sequential_passes_agree(prepare: Prepare) -> None:
    """Token counting in worker processes writes the same files and totals as in-process."""
    rows = pc_lines(300)
    one = prepare(rows, parallel=False)
    two = prepare(rows, parallel=True)
    assert one.splits == two.splits and one.tokens == two.tokens


def test_parallel_rewrite_agrees(prepare: Prepare) -> None:
    """With text fixes, the worker-process pass writes what the in-process pass writes."""
    rows = [{"prompt": f"q {i}", "completion": "yes" if i % 3 else "no"} for i in range(300)]
    fixes = ["add-separator", "add-space"]
    one = prepare(rows, fixes=fixes, parallel=False)
    two = prepare(rows, fixes=fixes, parallel=True)
    assert one.splits == two.splits and one.fixes_applied == two.fixes_applied
    assert one.splits["train"].label_counts.keys() == {" yes", " no"}


def test_separate_validation_file(prepare: Prepare, tmp_path: Path) -> None:
    """data.validation_source becomes the validation split, checked like the main file;
    the main file is split into train and test only; shared prompts are flagged."""
    held = tmp_path / "held.jsonl"
    extra = [
        {"prompt": f"Held question {i}?{SEP}", "completion": " yes" if i % 2 else " no"}
        for i in range(20)
    ]
    held.write_bytes(jsonl([*extra, pc_lines(100)[0], "{bad"]))
    prepared = prepare(pc_lines(100), validation_source=held, fixes=["drop-invalid"])
    assert prepared.validation_source == str(held)
    assert prepared.splits["validation"].examples == 21
    assert prepared.splits["train"].examples + prepared.splits["test"].examples == 100
    assert prepared.split_fractions["validation"] == 0.0
    invalid = finding(prepared, "invalid_json")
    assert (invalid.source, invalid.lines) == (str(held), [22])
    overlap = finding(prepared, "validation_overlap")
    assert overlap.lines == [21]


def test_parallel_from_a_thread_uses_clean_workers(prepare: Prepare) -> None:
    """Called from a worker thread (as a Prefect task runs), the parallel pass still agrees."""
    from concurrent.futures import ThreadPoolExecutor

    rows = pc_lines(300)
    with ThreadPoolExecutor(1) as pool:
        threaded = pool.submit(prepare, rows, parallel=True).result()
    assert threaded.splits == prepare(rows, parallel=False).splits
