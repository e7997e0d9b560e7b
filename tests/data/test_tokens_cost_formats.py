"""Exact token counts, the cost estimate, and CSV/TSV/JSON-array input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftkit.config import ColumnMapping
from ftkit.data.cost import estimate_cost
from ftkit.data.tokens import count_tokens, get_encoding

from .conftest import Prepare
from .prep_helpers import codes, finding, pc_lines


def test_billed_tokens_are_exact_prompt_plus_completion(prepare: Prepare) -> None:
    """Training-split tokens equal tiktoken's count of each written prompt and completion."""
    prepared = prepare(pc_lines(100), model="davinci-002")
    encoding = get_encoding("cl100k_base")
    rows = [
        json.loads(line) for line in Path(prepared.splits["train"].path).read_text().splitlines()
    ]
    expected = sum(
        count_tokens(r["prompt"], encoding) + count_tokens(r["completion"], encoding) for r in rows
    )
    assert prepared.tokens.billed_per_epoch == prepared.splits["train"].tokens == expected
    assert prepared.max_completion_tokens == 1


def test_legacy_models_use_r50k(prepare: Prepare) -> None:
    """ada…davinci are counted with r50k_base and a 2048-token limit."""
    prepared = prepare(pc_lines(30), model="curie")
    assert (prepared.tokens.encoding, prepared.tokens.context_limit) == ("r50k_base", 2048)


def test_cost_uses_the_table_and_states_the_epoch_assumption() -> None:
    """Cost = tokens × epochs × price/1K; auto epochs are 4 and said to be assumed."""
    cost = estimate_cost("davinci-002", 100_000, None, {})
    assert (cost.usd, cost.n_epochs, cost.n_epochs_assumed) == (pytest.approx(2.4), 4, True)
    assert "assumed" in cost.note and "2024" in (cost.price_source or "")
    assert estimate_cost("gpt-3.5-turbo-0125", 1000, 2, {}).usd == pytest.approx(0.016)


def test_config_prices_override_the_table() -> None:
    """data.prices_per_1k_tokens wins over the built-in table."""
    cost = estimate_cost("babbage-002", 10_000, 1, {"babbage-002": 0.01})
    assert cost.usd == pytest.approx(0.1) and "config" in (cost.price_source or "")


def test_unknown_price_is_never_invented() -> None:
    """A model without a known price gets no estimate and a note saying how to add one."""
    cost = estimate_cost("my-local-model", 10_000, 3, {})
    assert cost.usd is None and cost.price_per_1k_tokens is None
    assert "prices_per_1k_tokens" in cost.note


def test_fine_tuned_models_are_priced_by_their_base() -> None:
    """ft:gpt-4o-mini-…:org::id is priced like gpt-4o-mini-2024-07-18."""
    cost = estimate_cost("ft:gpt-4o-mini-2024-07-18:org::abc", 1000, 1, {})
    assert cost.usd == pytest.approx(0.003)


def test_csv_with_a_column_mapping(prepare: Prepare) -> None:
    """CSV columns are mapped to prompt/completion; empty cells are empty, never "nan"."""
    lines = ["text,label,id"] + [
        f'"row {i}, quoted",{"yes" if i % 2 else "no"},{i}' for i in range(30)
    ]
    lines.append('"row with empty label",,31')
    content = ("\n".join(lines) + "\n").encode()
    prepared = prepare(
        content, name="d.csv", columns=ColumnMapping(prompt="text", completion="label")
    )
    assert prepared.examples == 30
    assert finding(prepared, "empty_completion").lines == [32]
    assert "id" in finding(prepared, "unknown_keys").message


def test_csv_missing_column_names_the_header(prepare: Prepare) -> None:
    """A mapping to a column the header lacks is a DataError listing the header."""
    from ftkit.errors import DataError

    with pytest.raises(DataError, match="'label'"):
        prepare(
            b"text,answer\nhi,yes\n",
            name="d.csv",
            columns=ColumnMapping(prompt="text", completion="label"),
        )


def test_tsv_and_json_array(prepare: Prepare) -> None:
    """TSV rows and JSON-array items are read like JSONL lines."""
    tsv = "prompt\tcompletion\n" + "".join(
        f"q {i}\t{'yes' if i % 2 else 'no'}\n" for i in range(30)
    )
    assert prepare(tsv.encode(), name="d.tsv").examples == 30
    items = json.dumps([*pc_lines(30), [1]]).encode()
    prepared = prepare(items, name="d.json")
    assert prepared.examples == 30 and finding(prepared, "not_object").lines == [31]


def test_json_extension_holding_json_lines(prepare: Prepare) -> None:
    """A .json file that is really JSON lines is read as JSONL."""
    content = b"".join(json.dumps(row).encode() + b"\n" for row in pc_lines(30))
    prepared = prepare(content, name="d.json")
    assert prepared.examples == 30 and "invalid_json" not in codes(prepared)


def test_csv_row_with_invalid_utf8(prepare: Prepare) -> None:
    """A CSV row that is not UTF-8 is an error for that row; the others are read."""
    rows = b"prompt,completion\n" + b"".join(
        f"q {i},{'yes' if i % 2 else 'no'}\n".encode() for i in range(30)
    )
    prepared = prepare(rows + b"caf\xe9,yes\n", name="d.csv")
    assert finding(prepared, "invalid_utf8").lines == [32]
    assert prepared.examples == 30
