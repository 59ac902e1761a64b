from __future__ import annotations

import random

import pytest

from skyaccord.errors import IntentError
from skyaccord.protocol import default_accord
from skyaccord.strategic.intersect import place, theatre_plane, volumes_conflict
from skyaccord.strategic.private import (
    CellGrid,
    OverlapSide,
    intent_cells,
    private_overlap,
    volume_cells,
)
from skyaccord.strategic.volumes import Circle, Intent, Polygon, Volume

ACCORD = default_accord()
GRID = CellGrid(h3_resolution=7, layer_ft=1000, slot_s=900)
T0 = 1_750_000_000.0


def test_psi_equals_plain_intersection() -> None:
    rng = random.Random(3)
    universe = [f"c{i}" for i in range(2000)]
    a = set(rng.sample(universe, 400))
    b = set(rng.sample(universe, 300))
    learnt_a, learnt_b = private_overlap(a, b)
    assert learnt_a == learnt_b == a & b


def test_server_learns_only_the_request_size() -> None:
    x, y, z, w = (f"872d85294ffffff|{i}|1944444" for i in range(4))
    a, b = OverlapSide({x, y, z}), OverlapSide({y, w})
    req = a.request()
    setup, resp = b.answer(req)
    # the messages carry blinded curve points, never a cell name
    for msg in (req, setup, resp):
        assert all(name.encode() not in msg for name in (x, y, z, w))
    assert a.finish(setup, resp) == {y}


def test_peer_over_the_limit_and_garbage_refused() -> None:
    big = OverlapSide({f"c{i}" for i in range(50)})
    small = OverlapSide({"c1"}, max_peer_cells=10)
    with pytest.raises(IntentError, match="over the limit of 10"):
        small.answer(big.request())
    with pytest.raises(IntentError, match="malformed"):
        small.answer(b"\xff\x00garbage")


def _random_volume(rng: random.Random) -> Volume:
    lat, lon = 35.0 + rng.uniform(-0.08, 0.08), 38.5 + rng.uniform(-0.08, 0.08)
    z = rng.uniform(0, 5000)
    t = T0 + rng.uniform(0, 1800)
    if rng.random() < 0.5:
        fp: Circle | Polygon = Circle(lat, lon, rng.uniform(300, 4000))
    else:
        d = rng.uniform(0.01, 0.05)
        fp = Polygon(((lon, lat), (lon + d, lat), (lon + d / 2, lat + d)))
    return Volume(fp, z, z + rng.uniform(200, 3000), t, t + rng.uniform(300, 3600))


def test_every_exact_conflict_shows_as_a_shared_cell() -> None:
    rng = random.Random(11)
    plane = theatre_plane(35.0, 38.5)
    m = ACCORD.minima("manned", "unmanned")
    n_conf = 0
    for _ in range(60):
        va, vb = _random_volume(rng), _random_volume(rng)
        conflict = volumes_conflict(place(va, plane), place(vb, plane), m.horizontal_m,
                                    m.vertical_ft)
        ca = intent_cells([Intent("a", "us", (va,))], GRID, m.horizontal_m, m.vertical_ft)
        cb = intent_cells([Intent("b", "ru", (vb,))], GRID, m.horizontal_m, m.vertical_ft)
        if conflict:
            n_conf += 1
            assert ca & cb
    assert 10 <= n_conf <= 50  # both kinds of pair were drawn


def test_cells_of_far_apart_volumes_do_not_meet() -> None:
    t = 1_944_444 * 900.0  # the start of a 15 min slot
    v1 = Volume(Circle(35.0, 38.0, 1000), 0, 1000, t, t + 900)
    v2 = Volume(Circle(35.0, 39.0, 1000), 0, 1000, t, t + 900)
    assert not volume_cells(v1, GRID, 2000) & volume_cells(v2, GRID, 2000)
    # touching windows do not share a slot
    v3 = Volume(Circle(35.0, 38.0, 1000), 0, 1000, t + 900, t + 1800)
    assert not volume_cells(v1, GRID) & volume_cells(v3, GRID)


def test_too_many_cells_refused() -> None:
    v = Volume(Circle(35.0, 38.0, 20000), 0, 50000, T0, T0 + 86400)
    with pytest.raises(IntentError, match="cells, over the limit"):
        volume_cells(v, CellGrid(max_cells=10_000))
