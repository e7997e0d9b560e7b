"""Seeded, deterministic train/validation/test assignment by prompt hash.

Examples with the same prompt form one group and always land in the same split. With strata
(labels), each stratum is split on its own, so every split gets its share of every class.
"""

from __future__ import annotations

import numpy as np

TRAIN, VALIDATION, TEST, SKIP = 0, 1, 2, 255

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(keys: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of key ^ seed: a seeded, well-spread order that depends only on the prompt."""
    with np.errstate(over="ignore"):
        z = keys ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def _targets(n: int, groups: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Validation and test sizes for a stratum of n examples in `groups` groups.

    Each non-zero fraction gets at least one example when there are enough groups for every
    non-empty split; train keeps the rest.
    """
    _, f_valid, f_test = fractions
    wanted = [f for f in (f_valid, f_test) if f > 0]
    sizes = [int(n * f + 0.5) if f > 0 else 0 for f in (f_valid, f_test)]
    if groups >= 1 + len(wanted):
        sizes = [max(1, s) if f > 0 else 0 for s, f in zip(sizes, (f_valid, f_test), strict=True)]
    return sizes[0], sizes[1]


def assign_splits(
    prompt_keys: np.ndarray,
    strata: np.ndarray | None,
    fractions: tuple[float, float, float],
    seed: int,
) -> np.ndarray:
    """Split code (TRAIN/VALIDATION/TEST) per example.

    prompt_keys: uint64 hash of each example's prompt; strata: an int label per example, or
    None for one stratum. A group (same prompt) follows the stratum of its first example.
    """
    n = len(prompt_keys)
    codes = np.full(n, TRAIN, dtype=np.uint8)
    if n == 0:
        return codes
    unique_keys, first, inverse, sizes = np.unique(
        prompt_keys, return_index=True, return_inverse=True, return_counts=True
    )
    group_stratum = strata[first] if strata is not None else np.zeros(len(unique_keys), np.int64)
    group_order = _mix(unique_keys, seed)
    group_codes = np.full(len(unique_keys), TRAIN, dtype=np.uint8)
    for stratum in np.unique(group_stratum):
        members = np.flatnonzero(group_stratum == stratum)
        members = members[np.argsort(group_order[members], kind="stable")]
        member_sizes = sizes[members]
        n_valid, n_test = _targets(int(member_sizes.sum()), len(members), fractions)
        # A group goes where its middle falls, so one big group cannot swallow a small split.
        middles = np.cumsum(member_sizes) - member_sizes / 2
        codes_here = np.full(len(members), TRAIN, dtype=np.uint8)
        codes_here[middles < n_test + n_valid] = VALIDATION
        codes_here[middles < n_test] = TEST
        group_codes[members] = codes_here
    codes[:] = group_codes[inverse]
    return codes
