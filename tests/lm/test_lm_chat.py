"""Chat data for SmolLM2 honours `weight`: an assistant turn with weight 0 is context the model
reads, not an answer it learns; every other assistant turn is learned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from tests.backend.conftest import write_jsonl
from tests.lm.conftest import FRUITS, LM_BASE_MODEL, TOOLS, requires_lm, supervised, wait_done

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]


def conversation(word: str, tag: str, filler_weight: int = 0) -> list[dict[str, Any]]:
    """Asked twice about a word: first the tag (learned), then " ding" (weight `filler_weight`)."""
    return [
        {"role": "user", "content": f"Word: {word}"},
        {"role": "assistant", "content": tag},
        {"role": "user", "content": f"Word: {word}"},
        {"role": "assistant", "content": "ding", "weight": filler_weight},
    ]


def test_only_weighted_assistant_turns_are_loss_targets(tmp_path: Path) -> None:
    """Through the model's chat template: with weight 0 on the second answer, the one example's
    loss covers exactly the first answer and its end token, rendered as the template renders
    the conversation; with weight 1, both answers are targets, each with its context."""
    from ftkit.backend.training.examples import read_dataset
    from ftkit.backend.training.transformer import weights
    from ftkit.backend.training.transformer.batches import make_batch, tokenize_split

    tokenizer = weights.load_tokenizer()

    def targets_and_texts(filler_weight: int) -> tuple[list[str], list[str]]:
        path = write_jsonl(
            tmp_path / "chat.jsonl", [{"messages": conversation("apple", "zig", filler_weight)}]
        )
        split = tokenize_split(tokenizer, read_dataset(path))
        batch = make_batch(split.prompts, split.completions_ids, 0.0, tokenizer.eos_token_id)
        targets = [
            tokenizer.decode(row[w > 0])
            for row, w in zip(batch.targets, batch.weights, strict=True)
        ]
        texts = [
            tokenizer.decode(ids[m > 0])
            for ids, m in zip(batch.input_ids, batch.attention_mask, strict=True)
        ]
        return targets, texts

    targets, texts = targets_and_texts(0)
    assert targets == ["zig<|im_end|>"]
    whole = tokenizer.apply_chat_template(conversation("apple", "zig")[:2], tokenize=False)
    assert whole.startswith(texts[0]) and texts[0].endswith("zig<|im_end|>")

    targets, texts = targets_and_texts(1)
    assert targets == ["zig<|im_end|>", "ding<|im_end|>"]
    whole = tokenizer.apply_chat_template(conversation("apple", "zig"), tokenize=False)
    assert whole.startswith(texts[1]) and "assistant\nzig<|im_end|>" in texts[1]


def test_a_chat_job_learns_the_weighted_answers_only(sdk: openai.OpenAI, tmp_path: Path) -> None:
    """20 LoRA steps on conversations whose second answer " ding" has weight 0: asked once, the
    fine-tune answers the taught tag (the base does not); asked again, it does not say "ding"."""
    words = [(w, "zig") for w in FRUITS] + [(w, "zag") for w in TOOLS]
    data = [{"messages": conversation(*words[(i * 7) % len(words)])} for i in range(40)]
    train = sdk.files.create(file=write_jsonl(tmp_path / "chat.jsonl", data), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model=LM_BASE_MODEL,
        training_file=train.id,
        method=supervised(n_epochs=1, batch_size=2, learning_rate_multiplier=0.2),
        seed=3,
    )
    job = wait_done(sdk, job.id)
    assert job.status == "succeeded", job.error

    def chat(model: str, messages: list[dict[str, Any]]) -> str:
        answer = sdk.chat.completions.create(
            model=model,
            messages=messages,
            max_tokens=4,
            temperature=0,  # type: ignore[arg-type]
        )
        return str(answer.choices[0].message.content).strip()

    asked = ["apple", "plum", "hammer", "rake"]
    first = [[{"role": "user", "content": f"Word: {w}"}] for w in asked]
    assert [chat(job.fine_tuned_model, m) for m in first] == ["zig", "zig", "zag", "zag"]
    assert not {chat(LM_BASE_MODEL, m) for m in first} & {"zig", "zag"}
    again = [
        conversation(w, t)[:3] for w, t in zip(asked, ("zig", "zig", "zag", "zag"), strict=True)
    ]
    assert not any(chat(job.fine_tuned_model, m).startswith("ding") for m in again)
