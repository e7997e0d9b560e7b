"""Model names: the base models served, aliases, and fine-tuned names of both dialects."""

from __future__ import annotations

import functools
import re
import time

from ftkit.backend.training.transformer import LM_BASE_MODELS, lm_available

LEGACY_BASE_MODELS = ("ada", "babbage", "curie", "davinci")
COMPLETION_BASE_MODELS = ("babbage-002", "davinci-002")
CHAT_BASE_MODELS = ("gpt-3.5-turbo-0125", "gpt-4o-mini-2024-07-18")
BASE_MODELS = COMPLETION_BASE_MODELS + LEGACY_BASE_MODELS + CHAT_BASE_MODELS
ALIASES = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-0613": "gpt-3.5-turbo-0125",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
}
# Training price per 1K tokens of the legacy models (for the "Fine-tune costs $x.xx" event).
LEGACY_PRICE_PER_1K = {"ada": 0.0004, "babbage": 0.0006, "curie": 0.003, "davinci": 0.03}


@functools.cache
def served_base_models() -> tuple[str, ...]:
    """Every base model this server answers for: the real language models join the fast ones
    when the `lm` extra and their weights are installed."""
    return BASE_MODELS + (LM_BASE_MODELS if lm_available() else ())


def resolve_base(name: str) -> str | None:
    """The served snapshot of a base model name or alias; None if not a base model."""
    name = ALIASES.get(name, name)
    return name if name in served_base_models() else None


def is_chat_model(base: str) -> bool:
    """Chat-format models (messages in, message out)."""
    return base in CHAT_BASE_MODELS


def serves_chat(base: str) -> bool:
    """Whether `/v1/chat/completions` answers for this base: chat models and the real language
    models (which have a chat template and also complete plain prompts)."""
    return is_chat_model(base) or base in LM_BASE_MODELS


def normalize_suffix(suffix: str) -> str:
    """Runs of punctuation/whitespace → one `-`, lower-cased, at most 40 characters."""
    return re.sub(r"[^a-z0-9]+", "-", suffix.lower()).strip("-")[:40]


def legacy_model_name(base: str, org_slug: str, suffix: str | None, at: float | None = None) -> str:
    """`curie:ft-personal-2023-04-18-09-48-38` or `ada:ft-org:suffix-2022-…` (UTC time)."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(at))
    if suffix:
        return f"{base}:ft-{org_slug}:{normalize_suffix(suffix)}-{stamp}"
    return f"{base}:ft-{org_slug}-{stamp}"


def job_model_name(base: str, org_slug: str, suffix: str | None, token: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:personal::Ajo5kvNY` (empty suffix leaves `::`)."""
    return f"ft:{base}:{org_slug}:{normalize_suffix(suffix) if suffix else ''}:{token}"


def checkpoint_model_name(final_name: str, step: int) -> str:
    """The model name of an epoch checkpoint."""
    return f"{final_name}:ckpt-step-{step}"
