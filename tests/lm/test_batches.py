"""How examples become padded batches: a few fixed widths, none more than 1.5x the one below."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.lm.conftest import requires_lm

pytestmark = [pytest.mark.lm, requires_lm]


def test_a_batch_is_padded_to_the_smallest_width_that_holds_its_longest_example() -> None:
    """One ticket of 69 tokens among short ones pads the batch to 96, not 128; every width is
    at most 1.5x the one below it, so padding never doubles a batch."""
    from ftkit.backend.training.transformer.batches import BUCKETS, make_batch

    prompts = [[1] * 30, [1] * 67]
    batch = make_batch(prompts, [[2, 3], [2, 3]], 0.0, pad_id=0)
    assert tuple(batch.input_ids.shape) == (2, 96)
    assert batch.attention_mask.sum(dim=1).tolist() == [32, 69]
    assert all(upper <= 1.5 * lower for lower, upper in pairwise(BUCKETS))
