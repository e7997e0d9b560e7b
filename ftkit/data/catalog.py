"""Built-in facts per base model: training price and how many tokens an example may have."""

from __future__ import annotations

# Training price in USD per 1K tokens. Source: OpenAI pricing page as of 2024 (fine-tuning,
# "training" column); the legacy ada…davinci prices are the 2023 legacy fine-tuning prices.
# `data.prices_per_1k_tokens` in the config overrides any entry.
PRICES_PER_1K_TOKENS: dict[str, float] = {
    "babbage-002": 0.0004,
    "davinci-002": 0.006,
    "gpt-3.5-turbo": 0.008,
    "gpt-4o-mini-2024-07-18": 0.003,
    "gpt-4o-2024-08-06": 0.025,
    "ada": 0.0004,
    "babbage": 0.0006,
    "curie": 0.003,
    "davinci": 0.03,
}
PRICE_SOURCE = "built-in table: OpenAI pricing page as of 2024"

# Tokens per training example (longer examples are truncated or rejected). Legacy models: the
# legacy guide's prompt+completion ≤ 2048; 002 models: the 2023-08 guide's 4096; later limits
# from openai-api.md §5.10.
_CONTEXT_LIMITS: tuple[tuple[str, int], ...] = (
    ("gpt-4o", 65_536),
    ("gpt-3.5-turbo-0613", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("gpt-4", 8_192),
    ("babbage-002", 4_096),
    ("davinci-002", 4_096),
    ("ada", 2_048),
    ("babbage", 2_048),
    ("curie", 2_048),
    ("davinci", 2_048),
)
DEFAULT_CONTEXT_LIMIT = 4_096


def base_model(model: str) -> str:
    """The base model of a fine-tuned model name (`ft:gpt-4o-mini:org::id`, `curie:ft-…`)."""
    if model.startswith("ft:"):
        return model.split(":")[1]
    return model.split(":", 1)[0]


def price_per_1k(model: str, overrides: dict[str, float]) -> tuple[float | None, str | None]:
    """(price, where it came from) for a model; (None, None) when no price is known."""
    for name in (model, base_model(model)):
        if name in overrides:
            return overrides[name], "config data.prices_per_1k_tokens"
    base = base_model(model)
    for name in (model, base, _family(base)):
        if name in PRICES_PER_1K_TOKENS:
            return PRICES_PER_1K_TOKENS[name], PRICE_SOURCE
    return None, None


def context_limit(model: str) -> int:
    """Tokens one training example may have for this model (prefix match on the base model)."""
    base = base_model(model)
    for prefix, limit in _CONTEXT_LIMITS:
        if base == prefix or base.startswith(prefix + "-"):
            return limit
    return DEFAULT_CONTEXT_LIMIT


def _family(base: str) -> str:
    # gpt-3.5-turbo-0125 and friends share gpt-3.5-turbo's training price.
    return "gpt-3.5-turbo" if base.startswith("gpt-3.5-turbo") else base


LEGACY_MODELS = ("ada", "babbage", "curie", "davinci")
COMPLETION_MODELS = ("babbage-002", "davinci-002")
CHAT_MODELS_HINT = "a chat model such as gpt-4o-mini-2024-07-18 or gpt-3.5-turbo-0125"


def model_fit_problem(shape: str | None, model: str, dialect: str | None) -> str | None:
    """Why data of this shape cannot train `model` through `dialect` (and what fits), or None.

    OpenAI's rules: the legacy /v1/fine-tunes trains ada/babbage/curie/davinci (and, in the
    transition, babbage-002/davinci-002) on prompt/completion data; /v1/fine_tuning/jobs trains
    babbage-002/davinci-002 on prompt/completion data and the gpt-* models on chat data. Other model names (another provider's) pass.
    shape None: the data is not known, only the model and the dialect are checked.
    """
    base = base_model(model)
    if dialect == "legacy":
        if shape == "chat":
            return (
                "chat data cannot be trained through the legacy dialect (/v1/fine-tunes takes "
                f"prompt/completion data only): set provider.dialect: jobs and job.model to "
                f"{CHAT_MODELS_HINT}"
            )
        if base.startswith("gpt-"):
            return (
                f"{model} is trained through the jobs dialect, not the legacy one: set "
                "provider.dialect: jobs, or job.model to babbage-002, davinci-002 or a legacy "
                "model (ada, babbage, curie, davinci)"
            )
        return None
    if base in LEGACY_MODELS:
        return (
            f"{model} is a legacy model, trained only through the legacy dialect: set "
            "provider.dialect: legacy, or job.model to babbage-002 or davinci-002"
        )
    if shape == "chat" and base in COMPLETION_MODELS:
        return (
            f"{model} trains on prompt/completion data, and this data is chat (messages): set "
            f"job.model to {CHAT_MODELS_HINT}"
        )
    if shape == "prompt_completion" and base.startswith("gpt-"):
        return (
            f"{model} is a chat model and trains on chat data (messages); this data is "
            "prompt/completion: set job.model to babbage-002 or davinci-002, or convert the "
            "data to chat"
        )
    return None
