"""The generation contract every served model implements, and the one sampler that drives it.

A learner provides a `GenerativeModel`: a tokenizer, a context length, `begin(prompts)` giving
one `Continuation` per prompt (the model's next-token distribution at the end of the text so
far, advanced token by token), and `prompt_logprobs` for `echo`. Everything a request asks for
is done here, the same way for every model:

- `logit_bias` adds to a token's logit (log-probability); a token the model gives no
  probability starts from `FLOOR_LOGPROB`, so +100 still forces it and −100 bans any token.
- `presence_penalty` / `frequency_penalty` subtract `presence·[c>0] + frequency·c` from the logit
  of each token generated c times so far in this completion (OpenAI's formula).
- The adjusted distribution is renormalised exactly (only finitely many tokens are adjusted, so
  Z = 1 + Σ_adjusted (e^{adjusted} − e^{logprob})); reported logprobs are its log-probabilities,
  which are the model's own when nothing is adjusted. Temperature and top_p shape the draw only.
- `temperature` 0 is greedy; otherwise a draw from p^(1/T) within the `top_p` nucleus, seeded
  by `seed`. `stop` ends the text before the first stop sequence (held back while it may still be
  forming, so streamed text never shows part of one); end-of-text ends it too ("stop"), reaching
  `max_tokens` gives "length".
- `best_of` draws that many completions and returns the `n` with the highest mean token logprob.
- `echo` puts the prompt's tokens (with `prompt_logprobs`) before the completion.

`stream(...)` yields `TokenChunk`s token by token (what SSE streaming sends); `generate(...)`
collects them into `Choice`s.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

FinishReason = Literal["stop", "length"]
CHAT_MAX_TOKENS = 512
"""A chat reply without `max_tokens` stops here (or at the end of the context window)."""
FLOOR_LOGPROB = math.log(1e-12)
"""Where `logit_bias` starts for a token the model gives no probability at all."""


class Tokenizer(Protocol):
    """The part of a tokenizer the sampler uses (a `tiktoken.Encoding` is one)."""

    @property
    def eot_token(self) -> int:
        """The end-of-text token id (generating it ends the completion)."""
        ...

    @property
    def n_vocab(self) -> int:
        """Number of token ids (valid ids are 0 … n_vocab − 1)."""
        ...

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of plain text (special-token text is not special)."""
        ...

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes one token stands for."""
        ...


class Continuation(Protocol):
    """One sequence being generated: the model's next-token distribution after the text so far."""

    def candidates(self) -> tuple[Sequence[int], Sequence[float]]:
        """Next-token ids worth sampling and their log-probabilities (finite, any order).

        They need not cover the whole vocabulary (a transformer may list its top-k, or all);
        an empty list means nothing can follow (the completion ends with "stop").
        """
        ...

    def logprob(self, token: int) -> float:
        """log p(token) for any token id (−inf when impossible)."""
        ...

    def advance(self, token: int) -> None:
        """Append `token` to the text."""
        ...

    def fork(self) -> Continuation:
        """An independent copy at the same position (one per sampled choice)."""
        ...


class GenerativeModel(Protocol):
    """What a served model provides; `sampling.generate`/`stream` do the rest."""

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (`prompt_tokens`, `logit_bias` ids and usage count in it)."""
        ...

    @property
    def context_length(self) -> int:
        """Prompt plus completion tokens the model can handle."""
        ...

    @property
    def supports_suffix(self) -> bool:
        """Whether `begin` uses a `suffix` (text that comes after the completion)."""
        ...

    def begin(
        self, prompts: Sequence[Sequence[int]], suffix: Sequence[int] | None = None
    ) -> Sequence[Continuation]:
        """One continuation per prompt (token ids), positioned at the end of the prompt."""
        ...

    def prompt_logprobs(
        self, prompt: Sequence[int], top: int | None
    ) -> list[tuple[float | None, dict[int, float] | None]]:
        """Per prompt token: its log-probability (None for the first) and, when `top` is set,
        the `top` most probable ids at that position with their log-probabilities."""
        ...

    def chat_prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The prompt text a chat conversation becomes (the assistant's reply follows it)."""
        ...


@dataclass(frozen=True)
class SamplingParams:
    """One request's generation settings (openai-api.md §6.1, §6.3), already validated."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    best_of: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: int | None = None
    echo: bool = False
    logit_bias: Mapping[int, float] = field(default_factory=dict)
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    suffix: str | None = None


@dataclass(frozen=True)
class TokenChunk:
    """One streamed token: the text it releases, its logprob and alternatives.

    `text` can be shorter than `token` (a multi-byte character is released whole by the token
    that completes it; a stop sequence cuts the last token) or carry text held back earlier.
    `logprob` is None for the first echoed prompt token; `top_logprobs` is None unless logprobs
    were asked for. The last chunk of a completion has its `finish_reason` (and may have no
    token: `token` "" with `text` "").
    """

    text: str
    token: str
    logprob: float | None
    top_logprobs: dict[str, float] | None
    text_offset: int
    finish_reason: FinishReason | None = None


@dataclass(frozen=True)
class Choice:
    """One whole completion (openai-api.md §6.2): the chunks of a stream, collected.

    `tokens`, `token_logprobs`, `top_logprobs` and `text_offset` have one entry per token
    (prompt tokens first with `echo`). Offsets count characters of prompt + completion.
    """

    text: str
    finish_reason: FinishReason
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None] | None
    text_offset: list[int]

    @classmethod
    def collect(cls, chunks: Iterator[TokenChunk], logprobs: bool) -> Choice:
        """Join a completion's chunks."""
        text, finish = "", "length"
        tokens: list[str] = []
        lps: list[float | None] = []
        tops: list[dict[str, float] | None] = []
        offsets: list[int] = []
        for chunk in chunks:
            text += chunk.text
            if chunk.token:
                tokens.append(chunk.token)
                lps.append(chunk.logprob)
                tops.append(chunk.top_logprobs)
                offsets.append(chunk.text_offset)
            finish = chunk.finish_reason or finish
        return cls(text, finish, tokens, lps, tops if logprobs else None, offsets)  # type: ignore[arg-type]

    @property
    def mean_logprob(self) -> float:
        """Mean log-probability of the generated tokens (how `best_of` ranks)."""
        values = [lp for lp in self.token_logprobs if lp is not None]
        return sum(values) / len(values) if values else 0.0


def generate(
    model: GenerativeModel, prompts: Sequence[Sequence[int]], params: SamplingParams
) -> list[list[Choice]]:
    """Per prompt, `n` choices (the best `n` of `best_of` when asked)."""
    draws = max(params.best_of or params.n, params.n)
    rng = np.random.default_rng(params.seed)
    results = []
    for prompt, start in zip(prompts, _begin(model, prompts, params), strict=True):
        choices = [
            Choice.collect(
                _one(model, prompt, start.fork(), params, rng), params.logprobs is not None
            )
            for _ in range(draws)
        ]
        if draws > params.n:
            choices = sorted(choices, key=lambda c: -c.mean_logprob)[: params.n]
        results.append(choices)
    return results


def stream(
    model: GenerativeModel, prompts: Sequence[Sequence[int]], params: SamplingParams
) -> Iterator[tuple[int, TokenChunk]]:
    """(choice index, chunk) token by token; choice index = prompt index · n + j.

    `best_of` must not exceed `n` here (a ranked choice cannot be streamed before it is done).
    """
    rng = np.random.default_rng(params.seed)
    for i, (prompt, start) in enumerate(zip(prompts, _begin(model, prompts, params), strict=True)):
        for j in range(params.n):
            for chunk in _one(model, prompt, start.fork(), params, rng):
                yield i * params.n + j, chunk


def _begin(
    model: GenerativeModel, prompts: Sequence[Sequence[int]], params: SamplingParams
) -> Sequence[Continuation]:
    suffix = model.tokenizer.encode_ordinary(params.suffix) if params.suffix else None
    return model.begin(prompts, suffix)


def _one(
    model: GenerativeModel,
    prompt: Sequence[int],
    continuation: Continuation,
    params: SamplingParams,
    rng: np.random.Generator,
) -> Iterator[TokenChunk]:
    """One completion's chunks: echoed prompt tokens first, then generated ones."""
    tokenizer = model.tokenizer
    offset = 0
    if params.echo:
        scores = model.prompt_logprobs(prompt, params.logprobs)
        for token, (logprob, top) in zip(prompt, scores, strict=True):
            piece = _token_text(tokenizer, token)
            tops = _named(tokenizer, top) if params.logprobs is not None and top else None
            if tops is not None and logprob is not None:
                tops.setdefault(piece, logprob)
            yield TokenChunk(piece, piece, logprob, tops, offset)
            offset += len(piece)
    # offsets of generated tokens count from the end of the prompt text (openai-api.md §6.2)
    offset = len(_decode(tokenizer, prompt))
    yield from _Sampler(tokenizer, continuation, params, rng, offset).run()


class _Held(NamedTuple):
    """A generated token not yet streamed (its text may still turn out to start a stop)."""

    token: str
    logprob: float
    tops: dict[str, float] | None
    offset: int


class _Sampler:
    """Token-by-token generation for one completion."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        continuation: Continuation,
        params: SamplingParams,
        rng: np.random.Generator,
        offset: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.continuation = continuation
        self.params = params
        self.rng = rng
        self.start = offset
        self.counts: Counter[int] = Counter()
        self.bias = {int(t): float(b) for t, b in params.logit_bias.items() if b}
        self.longest_stop = max((len(s) for s in params.stop), default=0)

    def run(self) -> Iterator[TokenChunk]:
        """Chunks until end-of-text, a stop sequence or max_tokens; the last has the finish."""
        raw, released = b"", 0
        held: list[_Held] = []
        finish: FinishReason = "length"
        for step in range(self.params.max_tokens):
            picked = self._next()
            if picked is None:
                finish = "stop"
                break
            token, logprob, tops = picked
            piece = self.tokenizer.decode_single_token_bytes(token)
            held.append(_Held(piece.decode("utf-8", "replace"), logprob, tops, len(_text(raw))))
            raw += piece
            text = _text(raw)
            cut = self._stop_at(text, max(0, held[-1].offset - self.longest_stop))
            if cut is not None:
                yield from self._release(
                    [h for h in held if h.offset < cut], text, released, cut, "stop"
                )
                return
            self.counts[token] += 1
            self.continuation.advance(token)
            safe = self._safe_end(text)
            ends = [h.offset for h in held[1:]] + [len(text)]
            ready = sum(1 for end in ends if end <= safe)
            if ready and step < self.params.max_tokens - 1:  # the last one carries "length"
                yield from self._release(held[:ready], text, released, ends[ready - 1], None)
                held, released = held[ready:], ends[ready - 1]
        text = _text(raw, final=True)
        yield from self._release(held, text, released, len(text), finish)

    def _release(
        self,
        held: list[_Held],
        text: str,
        released: int,
        end: int,
        finish: FinishReason | None,
    ) -> Iterator[TokenChunk]:
        """One chunk per held token, covering text[released:end]; the last gets `finish`."""
        if not held and finish is not None:
            yield TokenChunk(text[released:end], "", None, None, self.start + end, finish)
        for index, h in enumerate(held):
            last = index == len(held) - 1
            start = released if index == 0 else h.offset
            stop = end if last else min(held[index + 1].offset, end)
            chunk_finish = finish if last else None
            yield TokenChunk(
                text[start:stop], h.token, h.logprob, h.tops, self.start + h.offset, chunk_finish
            )

    def _next(self) -> tuple[int, float, dict[str, float] | None] | None:
        """Draw the next token: (id, adjusted logprob, top alternatives) or None to stop."""
        ids, logprobs = self._adjusted()
        if not len(ids):
            return None
        pick = self._pick(logprobs)
        token = int(ids[pick])
        if token == self.tokenizer.eot_token:
            return None
        tops = None
        if self.params.logprobs is not None:
            order = np.argsort(-logprobs, kind="stable")[: self.params.logprobs]
            chosen = [*order.tolist(), pick] if pick not in order else order.tolist()
            tops = {_token_text(self.tokenizer, int(ids[i])): float(logprobs[i]) for i in chosen}
        return token, float(logprobs[pick]), tops

    def _adjusted(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their log-probabilities after logit_bias and penalties."""
        ids_seq, lps_seq = self.continuation.candidates()
        ids = np.asarray(ids_seq, dtype=np.int64)
        lps = np.asarray(lps_seq, dtype=np.float64)
        params = self.params
        adjust: dict[int, float] = {}
        for token, count in self.counts.items():
            adjust[token] = -(params.frequency_penalty * count + params.presence_penalty)
        for token, bias in self.bias.items():
            adjust[token] = adjust.get(token, 0.0) + bias
        adjust = {t: a for t, a in adjust.items() if a}
        if not adjust:
            return ids, lps
        listed = {int(t): i for i, t in enumerate(ids.tolist())}
        extra = [t for t in self.bias if t not in listed]
        if extra:
            ids = np.concatenate([ids, np.array(extra, dtype=np.int64)])
            lps = np.concatenate([lps, [self.continuation.logprob(t) for t in extra]])
            listed.update({t: len(listed) + k for k, t in enumerate(extra)})
        lps = lps.copy()
        z = 1.0
        for token, delta in adjust.items():
            original = lps[listed[token]] if token in listed else self.continuation.logprob(token)
            base = max(original, FLOOR_LOGPROB) if token in self.bias else original
            if token in listed:
                lps[listed[token]] = base + delta
            z += math.exp(base + delta) - math.exp(original)
        lps -= math.log(max(z, 1e-300))
        finite = np.isfinite(lps)
        return ids[finite], lps[finite]

    def _pick(self, logprobs: np.ndarray) -> int:
        """Greedy at temperature 0, else a draw from p^(1/T) within the top_p nucleus."""
        if self.params.temperature <= 0 or len(logprobs) == 1:
            return int(np.argmax(logprobs))
        scaled = logprobs / self.params.temperature
        weights = np.exp(scaled - scaled.max())
        order = np.argsort(-weights, kind="stable")
        cumulative = np.cumsum(weights[order] / weights.sum())
        if self.params.top_p < 1:
            keep = int(np.searchsorted(cumulative, self.params.top_p)) + 1
            cumulative = cumulative[:keep]
        index = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
        return int(order[min(index, len(cumulative) - 1)])

    def _stop_at(self, text: str, start: int) -> int | None:
        """Where the first stop sequence begins in text[start:] (an index into text), if any."""
        found = [p for p in (text.find(s, start) for s in self.params.stop if s) if p >= 0]
        return min(found) if found else None

    def _safe_end(self, text: str) -> int:
        """How much of `text` can be released: all but a tail that may start a stop sequence."""
        for start in range(max(0, len(text) - self.longest_stop + 1), len(text)):
            tail = text[start:]
            if any(s.startswith(tail) for s in self.params.stop if s):
                return start
        return len(text)


def _text(raw: bytes, final: bool = False) -> str:
    """Text of the bytes so far; an unfinished multi-byte character waits (unless final)."""
    return raw.decode("utf-8", "replace" if final else "ignore")


def _decode(tokenizer: Tokenizer, tokens: Sequence[int]) -> str:
    return b"".join(tokenizer.decode_single_token_bytes(t) for t in tokens).decode(
        "utf-8", "replace"
    )


def _token_text(tokenizer: Tokenizer, token: int) -> str:
    return tokenizer.decode_single_token_bytes(token).decode("utf-8", "replace")


def _named(tokenizer: Tokenizer, top: Mapping[int, float]) -> dict[str, float]:
    return {_token_text(tokenizer, t): lp for t, lp in top.items()}
