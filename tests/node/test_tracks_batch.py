"""``POST /tracks`` read as columns and applied as one batch: the same rows refused, the
same picture as the reports applied one by one."""

from __future__ import annotations

import math

import numpy as np

from skyaccord.ingest.states import StateUpdate, check_update
from skyaccord.node.runtime import impossible
from skyaccord.picture import Picture, StateBatch
from tests.node.conftest import T0, Harness


def test_impossible_rows_are_the_ones_check_update_refuses() -> None:
    rng = np.random.default_rng(3)
    edges = {"lat": [-90, 90, 90.5, math.inf, -math.inf], "lon": [-180, 180, 181],
             "alt_ft": [-2000, 200_000, -2001], "gs_kt": [0, 2500, -0.1, 2501],
             "trk_deg": [-360, 360, 361], "vs_fpm": [-60_000, 60_000, 60_001, math.inf]}
    ups = []
    for k in range(3000):
        values: dict[str, float | None] = {}
        for name, sides in edges.items():
            u = rng.random()
            values[name] = (None if u < 0.15 else float(rng.choice(sides)) if u < 0.3
                            else float(rng.uniform(-100, 100)))
        ups.append(StateUpdate(T0, f"a{k}", "state", **values))  # type: ignore[arg-type]
    batch = StateBatch.of(ups)
    assert batch is not None
    want = [check_update(u) is not None for u in ups]
    assert impossible(batch).tolist() == want
    assert 0 < sum(want) < len(want)


def test_a_batch_with_old_and_repeated_rows_gives_the_picture_of_one_by_one(
        harness: Harness) -> None:
    rng = np.random.default_rng(11)
    rt = harness.node.runtime
    reference = Picture(max_age_s=rt.picture.max_age_s, rules=rt.picture.rules)
    for step in range(3):
        harness.clock.t = T0 + 10.0 * step
        rows = []
        for k in range(200):
            row = {"id": f"ac{int(rng.integers(60))}", "lat": 35 + float(rng.normal(0, 1)),
                   "lon": 38 + float(rng.normal(0, 1)), "alt_ft": 20_000.0,
                   "gs_kt": 400.0, "trk_deg": float(rng.uniform(0, 360)),
                   "party": ["us", "ru", None][k % 3], "class": ["manned", None][k % 2]}
            if rng.random() < 0.6:  # reported earlier than now, older than held too
                row["t"] = harness.clock.t - float(rng.integers(0, 15))
            rows.append(row)
        harness.post_tracks(rows)
        source = "api:" + "operator"
        for r in rows:
            reference.update(StateUpdate(r.get("t", harness.clock.t), r["id"], "state",
                                         None, r["lat"], r["lon"], r["alt_ft"], r["gs_kt"],
                                         r["trk_deg"], 0.0, None, r["party"], r["class"],
                                         source), associate=False)
    got, want = rt.picture, reference
    assert got.ids == want.ids and got.stale == want.stale > 0
    for c in ("t_seen", "t_pos", "lat", "lon", "alt_ft", "t_vel", "gs_kt", "trk_deg"):
        np.testing.assert_array_equal(got.column(c), want.column(c), err_msg=c)
    a, b = got.snapshot(harness.clock.t), want.snapshot(harness.clock.t)
    assert a.party.tolist() == b.party.tolist()
    assert a.aircraft_class.tolist() == b.aircraft_class.tolist()
