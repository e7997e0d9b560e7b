"""Which split is evaluated, and what the requests ask for."""

from __future__ import annotations

import pytest

from ftkit.config import ExperimentConfig
from ftkit.data.models import CostEstimate, PreparedData, SplitInfo, TokenStats
from ftkit.errors import ConfigError
from ftkit.evaluate.runner import choose_split, make_plan


def prepared(splits: dict[str, int], **fields: object) -> PreparedData:
    values: dict[str, object] = {
        "source": "d.jsonl",
        "out_dir": "p",
        "model": "babbage-002",
        "format": "prompt_completion",
        "task_type": "classification",
        "lines": 10,
        "examples": 10,
        "splits": {
            n: SplitInfo(path=f"{n}.jsonl", examples=k, sha256="0") for n, k in splits.items()
        },
        "split_fractions": {n: 0.5 for n in splits},
        "seed": 1,
        "stratified": False,
        "classes": [" very good\n", " bad\n"],
        "completion_stop": "\n",
        "max_completion_tokens": 9,
        "tokens": TokenStats(counted=False, encoding="cl100k_base"),
        "cost": CostEstimate(
            model="babbage-002",
            n_epochs=4,
            n_epochs_assumed=True,
            price_per_1k_tokens=None,
            price_source=None,
            billed_tokens=None,
            usd=None,
            note="",
        ),
        "written": True,
    } | fields
    return PreparedData.model_validate(values)


def test_auto_prefers_test_then_validation() -> None:
    """auto = test if it has examples, else validation."""
    assert choose_split(prepared({"train": 8, "validation": 1, "test": 1}), "auto") == "test"
    assert choose_split(prepared({"train": 8, "validation": 2}), "auto") == "validation"


def test_missing_split_is_a_config_error_that_says_what_to_do() -> None:
    """Asking for an empty split names the available ones and the fix."""
    with pytest.raises(ConfigError, match=r"no test examples \(splits: train, validation\)"):
        choose_split(prepared({"train": 8, "validation": 2}), "test")
    with pytest.raises(ConfigError, match=r"data\.split\.test"):
        choose_split(prepared({"train": 10}), "auto")


def test_plan_derives_stop_and_max_tokens_from_the_data() -> None:
    """Classification: the longest class in tokens plus the stop; evaluate.max_tokens overrides."""
    config = ExperimentConfig.model_validate({"name": "x", "data": {"source": "d.jsonl"}})
    plan = make_plan(prepared({"train": 8, "test": 2}), config)
    assert (plan.max_tokens, plan.stop, plan.logprobs) == (3, "\n", 5)  # ' very', ' good', '\n'
    assert plan.classes == [" bad", " very good"]
    config.evaluate.max_tokens = 7
    assert make_plan(prepared({"train": 8, "test": 2}), config).max_tokens == 7
    text = prepared({"train": 8, "test": 2}, task_type="conditional_generation", classes=[])
    config.evaluate.max_tokens = None
    plan = make_plan(text, config)
    assert (plan.max_tokens, plan.logprobs, plan.classes) == (9, None, [])
