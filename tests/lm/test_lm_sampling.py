"""SmolLM2 as the base model over HTTP: real answers, and sampling parameters really change
what it writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.lm.conftest import LM_BASE_MODEL, requires_lm

pytestmark = [pytest.mark.lm, pytest.mark.slow, requires_lm]
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def api(lm_backend: Any) -> Iterator[httpx.Client]:
    """An httpx client on the module's backend."""
    with httpx.Client(base_url=lm_backend.url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def tokenizer(lm_backend: Any) -> Any:
    """The served model's tokenizer (to name tokens by id)."""
    from ftkit.backend.training.transformer.serving import registry

    return registry().tokenizer


def complete(api: httpx.Client, **params: Any) -> dict[str, Any]:
    """POST /completions on the base model; the response body."""
    response = api.post("/completions", json={"model": LM_BASE_MODEL, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_base_model_is_listed_and_answers_for_real(api: httpx.Client, tokenizer: Any) -> None:
    """Listed in /v1/models; greedy chat knows the capital of France; usage counts its tokens."""
    assert LM_BASE_MODEL in [m["id"] for m in api.get("/models").json()["data"]]
    body = api.post(
        "/chat/completions",
        json={
            "model": LM_BASE_MODEL,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "temperature": 0,
            "max_tokens": 12,
        },
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert "Paris" in content and body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == len(tokenizer.encode_ordinary(content))


def test_logprobs_echo_and_seeded_samples_are_the_models(api: httpx.Client) -> None:
    """Greedy completion with echo: the prompt's tokens come back with the model's logprobs
    (the first has none); seeded samples repeat, different seeds differ."""
    body = complete(api, prompt=PROMPT, max_tokens=3, temperature=0, logprobs=2, echo=True)
    logprobs = body["choices"][0]["logprobs"]
    assert body["choices"][0]["text"].startswith(PROMPT + " Paris")
    assert logprobs["token_logprobs"][0] is None
    assert all(lp < 0 for lp in logprobs["token_logprobs"][1:])
    assert all(len(top) >= 2 for top in logprobs["top_logprobs"][1:])

    def texts(seed: int) -> list[str]:
        body = complete(api, prompt=PROMPT, max_tokens=8, temperature=1.0, n=3, seed=seed)
        return [c["text"] for c in body["choices"]]

    assert texts(1) == texts(1) != texts(2)


def test_logit_bias_bans_and_forces_tokens(api: httpx.Client, tokenizer: Any) -> None:
    """-100 on the greedy first token makes another one come first; +100 forces a token."""
    greedy = complete(api, prompt=PROMPT, max_tokens=3, temperature=0, logprobs=0)
    first = greedy["choices"][0]["logprobs"]["tokens"][0]
    [first_id] = tokenizer.encode_ordinary(first)
    banned = complete(
        api, prompt=PROMPT, max_tokens=3, temperature=0, logprobs=0, logit_bias={first_id: -100}
    )
    assert banned["choices"][0]["logprobs"]["tokens"][0] != first
    [banana] = tokenizer.encode_ordinary(" banana")
    forced = complete(
        api, prompt=PROMPT, max_tokens=4, temperature=1, seed=1, logit_bias={banana: 100}
    )
    assert forced["choices"][0]["text"] == " banana" * 4


def test_penalties_cut_repeated_tokens(api: httpx.Client) -> None:
    """Greedy text repeats itself; frequency and presence penalties repeat tokens less."""
    prompt = "one two one two one two one two one two"

    def repeats(**penalty: float) -> int:
        body = complete(api, prompt=prompt, max_tokens=24, temperature=0, logprobs=0, **penalty)
        counts = Counter(body["choices"][0]["logprobs"]["tokens"])
        return sum(c - 1 for c in counts.values())

    plain = repeats()
    assert repeats(frequency_penalty=2.0) < plain
    assert repeats(presence_penalty=2.0) < plain


def test_best_of_returns_the_n_most_probable_draws(api: httpx.Client) -> None:
    """best_of=4, n=2: two choices, ranked by mean token logprob; a seed repeats them."""
    params = {"prompt": PROMPT, "max_tokens": 6, "temperature": 1.2, "seed": 5, "logprobs": 0}
    body = complete(api, n=2, best_of=4, **params)
    means = [
        sum(c["logprobs"]["token_logprobs"]) / len(c["logprobs"]["token_logprobs"])
        for c in body["choices"]
    ]
    assert len(means) == 2 and means[0] >= means[1]
    assert [c["text"] for c in complete(api, n=2, best_of=4, **params)["choices"]] == [
        c["text"] for c in body["choices"]
    ]
