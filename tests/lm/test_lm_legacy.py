"""The legacy dialect (`POST /v1/fine-tunes`) on SmolLM2 with classification metrics: the
`classification/*` columns of the results file are the fine-tuned model's own verdicts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.conftest import DONE, upload, wait_for, write_jsonl
from tests.lm.conftest import FRUITS, LM_BASE_MODEL, TOOLS, requires_lm, rows

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
# the validation file gives these trained words the other tag: a model that learned the training
# file answers them "wrong", so its accuracy is 12/16 and its precision and recall are not 1
MISLABELLED = ("cherry", "plum", "saw", "rake")
NEAR_TIE = 0.05  # nats between the two classes' log-probabilities


def validation_rows() -> list[dict[str, str]]:
    """Each trained word once, with its tag, except the MISLABELLED ones."""
    tags = {**dict.fromkeys(FRUITS, " zig"), **dict.fromkeys(TOOLS, " zag")}
    other = {" zig": " zag", " zag": " zig"}
    return [
        {"prompt": f"Word: {w}\nTag:", "completion": other[t] if w in MISLABELLED else t}
        for w, t in tags.items()
    ]


@pytest.fixture
def api(lm_backend: Any) -> Iterator[httpx.Client]:
    """An httpx client on the module's backend."""
    with httpx.Client(base_url=lm_backend.url, timeout=300) as client:
        yield client


def test_classification_metrics_are_the_fine_tuned_models_own(
    api: httpx.Client, tmp_path: Path
) -> None:
    """40 LoRA steps (2 epochs; legacy jobs draw a random seed, and 20 steps did not learn
    every word at every seed): the results' last row has the binary `classification/*`
    columns, only there; its accuracy, precision and recall are those of the served
    fine-tune's own class probabilities on the validation prompts, and accuracy is well above
    chance."""
    valid_rows = validation_rows()
    train = upload(api, write_jsonl(tmp_path / "train.jsonl", rows()))
    valid = upload(api, write_jsonl(tmp_path / "valid.jsonl", valid_rows))
    created = api.post(
        "/fine-tunes",
        json={
            "model": LM_BASE_MODEL,
            "training_file": train["id"],
            "validation_file": valid["id"],
            "n_epochs": 2,
            "batch_size": 2,
            "learning_rate_multiplier": 0.2,
            "compute_classification_metrics": True,
            "classification_positive_class": " zig",
        },
    )
    assert created.status_code == 200, created.text
    job = wait_for(api, f"/fine-tunes/{created.json()['id']}", DONE, timeout=600)
    assert job["status"] == "succeeded", job
    content = api.get(f"/files/{job['result_files'][0]['id']}/content").text
    table = list(csv.DictReader(io.StringIO(content)))
    assert len(table) == 40
    with_scores = [int(r["step"]) for r in table if r["classification/accuracy"]]
    assert with_scores == [20, 40]  # at epoch ends only
    last = {k: float(v) for k, v in table[-1].items() if k.startswith("classification/")}
    assert set(last) >= {
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        "classification/auroc",
        "classification/auprc",
        "classification/f1.0",
    }

    # the trainer scores a class by the probability of its tokens and then the end token;
    # the served fine-tune gives the same through `echo` (bf16 serving and the fp32 trainer may
    # order a near tie differently, so those may go either way)
    from ftkit.backend.training.transformer import weights

    end = weights.load_tokenizer().eos_token

    def echoed(text: str) -> list[float]:
        body = api.post(
            "/completions",
            json={"model": job["fine_tuned_model"], "prompt": text, "max_tokens": 0,
                  "echo": True, "logprobs": 0},
        ).json()  # fmt: skip
        return [float(lp) for lp in body["choices"][0]["logprobs"]["token_logprobs"][1:]]

    def margin(prompt: str) -> float:
        """log P(" zig", end) - log P(" zag", end) after the prompt, from the served model."""
        start = len(echoed(prompt))
        return sum(echoed(f"{prompt} zig{end}")[start:]) - sum(echoed(f"{prompt} zag{end}")[start:])

    margins = [margin(r["prompt"]) for r in valid_rows]
    said_zig = [m > 0 for m in margins]
    is_zig = [r["completion"] == " zig" for r in valid_rows]
    hits = sum(s == i for s, i in zip(said_zig, is_zig, strict=True))
    true_zig = sum(s and i for s, i in zip(said_zig, is_zig, strict=True))
    near_ties = sum(abs(m) < NEAR_TIE for m in margins)
    assert abs(last["classification/accuracy"] - hits / len(valid_rows)) <= near_ties / 16
    if near_ties == 0:
        assert last["classification/precision"] == pytest.approx(true_zig / max(1, sum(said_zig)))
        assert last["classification/recall"] == pytest.approx(true_zig / sum(is_zig))
    assert last["classification/accuracy"] >= 0.7  # 12/16 when every trained word is learned
