"""The registry's separation buffers and lock keys: what makes checks complete and
conflicting writers exclude each other."""

from __future__ import annotations

import itertools
import random

import pytest

from skyaccord.errors import ProtocolError
from skyaccord.protocol import default_accord
from skyaccord.strategic.intersect import place, theatre_plane, volumes_conflict
from skyaccord.strategic.locks import INTENT, LOCK_CELL_M, MAX_LOCK_CELLS, REQUEST, lock_keys
from skyaccord.strategic.separation import Separation
from skyaccord.strategic.volumes import Circle, Volume

T0 = 1_750_000_000.0


def test_minima_are_the_accords_in_either_order() -> None:
    acc = default_accord()
    sep = Separation(acc)
    for a, b in itertools.product(acc.classes, repeat=2):
        m = acc.minima(a, b)
        assert sep.minima(a, b) == sep.minima(b, a) == (m.horizontal_m, m.vertical_ft)
    assert sep.max_h_m == max(r.minima.horizontal_m for r in acc.separation)
    assert sep.max_v_ft == max(r.minima.vertical_ft for r in acc.separation)
    with pytest.raises(ProtocolError, match="balloon"):
        sep.minima("manned", "balloon")


def test_conflicting_volumes_meet_in_search_boxes_and_share_a_lock_cell() -> None:
    """Any two volumes that conflict under some class pair's minima meet each other's
    search box, and their writes hold a common cell key; pairs placed across cell
    boundaries (50 km) are the ones this is about."""
    acc = default_accord()
    sep = Separation(acc)
    plane = theatre_plane(35.0, 38.5)
    rng = random.Random(2)
    conflicting = 0
    for _ in range(400):
        lat, lon = 35.0 + rng.uniform(-2, 2), 38.5 + rng.uniform(-2, 2)
        a = place(Volume(Circle(lat, lon, rng.uniform(100, 3000)), 0, 1000, T0, T0 + 60),
                  plane)
        d = rng.uniform(0, 0.2)
        b = place(Volume(Circle(lat + rng.uniform(-d, d), lon + rng.uniform(-d, d),
                                rng.uniform(100, 3000)), 500, 1500, T0, T0 + 60), plane)
        if not volumes_conflict(a, b, sep.max_h_m, sep.max_v_ft):
            continue
        conflicting += 1
        ga, gb = sep.search_box(a), sep.search_box(b)
        assert ga.xmin <= b.box.xmax and b.box.xmin <= ga.xmax
        assert ga.ymin <= b.box.ymax and b.box.ymin <= ga.ymax
        ka, ea = lock_keys([ga], "a", None)
        kb, eb = lock_keys([gb], "b", "r")
        assert not ea and not eb
        assert set(ka) & set(kb)
        assert ka[-1][0] == INTENT and kb[-1][0] == REQUEST and ka[-1] != kb[-2]
    assert conflicting > 100


def test_too_many_cells_take_the_global_lock() -> None:
    plane = theatre_plane(35.0, 38.5)
    sep = Separation(default_accord())
    # a 2,500 km² square is 50 km on a side: a handful of cells
    small = place(Volume(Circle(35.0, 38.5, 20_000), 0, 1000, T0, T0 + 60), plane)
    keys, exclusive = lock_keys([sep.search_box(small)], "a", None)
    assert not exclusive and 1 < len(keys) <= 10
    # volumes 0.5° (over a cell) apart on a 17 x 17 grid: more than MAX_LOCK_CELLS cells
    many = [sep.search_box(place(Volume(Circle(31.0 + 0.5 * (i // 17), 34.5 + 0.5 * (i % 17),
                                               1000), 0, 1000, T0, T0 + 60), plane))
            for i in range(17 * 17)]
    assert MAX_LOCK_CELLS < 17 * 17
    assert not lock_keys(many[:100], "a", "r")[1]
    assert LOCK_CELL_M == 50_000.0
    assert lock_keys(many, "a", "r") == ([], True)
