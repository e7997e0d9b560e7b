"""/v1/models and /v1/completions: base and fine-tuned models, prompt arrays, logprobs, echo."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.backend.conftest import SEPARATOR


def complete(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """POST /completions, asserting success."""
    response = api.post("/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_models_lists_base_models(api: httpx.Client) -> None:
    """The base models the backend fine-tunes, owned by system."""
    ids = [m["id"] for m in api.get("/models").json()["data"]]
    assert {"babbage-002", "davinci-002", "ada", "curie", "gpt-4o-mini-2024-07-18"} <= set(ids)
    assert api.get("/models/davinci-002").json()["owned_by"] == "system"


def test_fine_tuned_model_is_listed_retrieved_and_deleted(api: httpx.Client, model: str) -> None:
    """Delete returns the delete envelope; afterwards the model is gone everywhere."""
    assert api.get(f"/models/{model}").json()["id"] == model
    assert api.delete(f"/models/{model}").json() == {
        "id": model,
        "object": "model",
        "deleted": True,
    }
    assert model not in [m["id"] for m in api.get("/models").json()["data"]]
    gone = api.get(f"/models/{model}")
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == f"The model '{model}' does not exist"
    assert api.post("/completions", json={"model": model, "prompt": "x"}).status_code == 404
    assert api.delete("/models/babbage-002").status_code == 403


def test_completion_learns_the_labels_with_honest_logprobs(api: httpx.Client, model: str) -> None:
    """temperature 0 picks the learned label; logprobs has tokens, top maps and offsets."""
    prompt = "the film was superb and wonderful" + SEPARATOR
    body = complete(api, model=model, prompt=prompt, max_tokens=1, temperature=0, logprobs=2)
    assert body["object"] == "text_completion" and body["model"] == model
    [choice] = body["choices"]
    assert choice["text"] == " positive" and choice["index"] == 0
    logprobs = choice["logprobs"]
    assert logprobs["tokens"] == [" positive"]
    assert logprobs["text_offset"] == [len(prompt)]
    top = logprobs["top_logprobs"][0]
    assert set(top) == {" positive", " negative"} and top[" positive"] > top[" negative"]
    assert logprobs["token_logprobs"][0] == pytest.approx(top[" positive"])
    assert body["usage"]["completion_tokens"] == 1
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 1


def test_prompt_arrays_and_n_index_choices_by_prompt(api: httpx.Client, model: str) -> None:
    """choices[i * n + j] is prompt i's j-th completion."""
    prompts = ["awful and terrible" + SEPARATOR, "great and superb" + SEPARATOR]
    body = complete(api, model=model, prompt=prompts, n=2, max_tokens=1, temperature=0)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert [c["text"] for c in body["choices"]] == [" negative"] * 2 + [" positive"] * 2
    assert all(c["logprobs"] is None for c in body["choices"])


def test_stop_echo_and_seeded_sampling(api: httpx.Client, model: str) -> None:
    """A stop sequence ends the text; echo prepends the prompt; a seed repeats a sample."""
    prompt = "great and superb" + SEPARATOR
    stopped = complete(api, model=model, prompt=prompt, temperature=0, stop=["\n"])
    assert stopped["choices"][0] == {
        "text": " positive",
        "index": 0,
        "logprobs": None,
        "finish_reason": "stop",
    }
    echoed = complete(
        api, model=model, prompt=prompt, temperature=0, echo=True, max_tokens=1, logprobs=0
    )
    choice = echoed["choices"][0]
    assert choice["text"] == prompt + " positive"
    assert choice["logprobs"]["text_offset"][0] == 0
    assert choice["logprobs"]["token_logprobs"][0] is None
    sampled = [
        complete(api, model=model, prompt=prompt, temperature=1.5, seed=3, user="u1")["choices"]
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]


def test_base_models_answer_completions_and_chat(api: httpx.Client) -> None:
    """Untuned base models still answer (completions and chat)."""
    assert complete(api, model="davinci-002", prompt="Hello", max_tokens=3)["choices"]
    chat = api.post(
        "/chat/completions",
        json={
            "model": "gpt-3.5-turbo",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 3,
        },
    )
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["role"] == "assistant"
    wrong = api.post(
        "/chat/completions",
        json={"model": "babbage-002", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert wrong.status_code == 404


def test_null_parameters_take_their_defaults(api: httpx.Client) -> None:
    """openai 0.28 sends every CLI option, unset ones as null: they mean the default."""
    body = complete(
        api,
        model="babbage-002",
        prompt="Hello",
        max_tokens=2,
        temperature=None,
        top_p=None,
        n=None,
        logprobs=None,
        stop=None,
        stream=None,
    )
    assert len(body["choices"]) == 1 and body["choices"][0]["logprobs"] is None
