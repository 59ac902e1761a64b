"""The CSV writer's strings encoded by whole arrays (many ASCII ids) are the bytes the
per-string encoder gives, and anything it cannot take (non-ASCII, a character the csv
module quotes) is left to that encoder: random id tables."""

from __future__ import annotations

import random

import numpy as np
import pytest

from skyaccord.tactical._csv import encode_texts

ALPHABET = ["a", "Z", "0", " ", "-", "_", ".", "\x00", "é", ",", '"', "\n", "\r", "\t"]


@pytest.mark.parametrize("seed", range(12))
def test_whole_array_encoding_equals_per_string(seed: int) -> None:
    rng = random.Random(seed)
    plain = ALPHABET[:8] if seed % 2 else ALPHABET  # odd seeds: the fast path's own
    n = rng.choice([1000, 1500, 4000])
    values = np.array(["".join(rng.choice(plain) for _ in range(rng.randint(0, 9)))
                       + f"{k}" for k in range(n)])
    fast = encode_texts(values)
    slow = encode_texts(list(values))  # a list: the per-string encoder
    assert fast[0] == slow[0]
    assert fast[1].tobytes() == slow[1].tobytes()
    np.testing.assert_array_equal(fast[2], slow[2])
    assert fast[3] == slow[3]
    joined = b"".join(s.encode() for s in slow[0])
    assert fast[1].tobytes() == joined  # the fields, concatenated
