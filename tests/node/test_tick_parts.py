"""The tick's shortcuts give what the long way gives: the plane's factors in closed form
(against PROJ), incursions predicted only for tracks that may reach a zone (against every
track), the alerts' changes found by integer keys (against comparing the alerts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from skyaccord.airspace.crossing import predict_incursions
from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.node.runtime import _Plane, _Reach
from skyaccord.node.service import node_zones
from skyaccord.protocol import default_accord
from skyaccord.tracks import Tracks
from tests.node.conftest import T0, Harness


@pytest.mark.parametrize(("lat0", "lon0"), [(35.0, 38.0), (-33.9, 151.2), (64.1, -21.9),
                                            (0.0, 179.0), (52.5, 13.4)])
def test_plane_factors_in_closed_form_are_proj_s(lat0: float, lon0: float) -> None:
    rng = np.random.default_rng(1)
    lat = np.clip(lat0 + rng.uniform(-6, 6, 5000), -85, 85)
    lon = lon0 + rng.uniform(-8, 8, 5000)
    ours, proj = _Plane(lat0, lon0).factors(lat, lon), LocalPlane(lat0, lon0).factors(lat, lon)
    np.testing.assert_allclose(ours.scale, proj.scale, rtol=1e-10, atol=0)
    np.testing.assert_allclose(ours.convergence_rad, proj.convergence_rad, rtol=0, atol=1e-10)
    assert np.ptp(proj.scale) > 1e-3 and np.ptp(proj.convergence_rad) > 0.01  # not trivial


def _traffic(n: int, seed: int, lat: float, lon: float, spread: float) -> Tracks:
    rng = np.random.default_rng(seed)
    parties = np.array(["us", "ru", "tr", "unknown"])[rng.integers(0, 4, n)]
    return Tracks(np.array([f"a{k}" for k in range(n)]), parties,
                  np.array(["manned"] * n), lat + rng.uniform(-spread, spread, n),
                  lon + rng.uniform(-spread * 1.2, spread * 1.2, n),
                  rng.uniform(0, 40_000, n), rng.uniform(0, 700, n), rng.uniform(0, 360, n),
                  rng.uniform(-3000, 3000, n))


@pytest.mark.parametrize("seed", range(3))
def test_incursions_of_the_tracks_that_may_reach_a_zone_are_all_of_them(seed: int) -> None:
    accord = default_accord()
    zones = node_zones(accord)
    snap = _traffic(4000, seed, 36.0, 38.0, 2.5)  # across Turkey's southern border
    plane = LocalPlane(*picture_centre(snap.lat, snap.lon))
    every = predict_incursions(snap, zones, accord, t_now_s=T0, depth=False, plane=plane)
    rows = _Reach(zones).rows(snap, accord.lookahead_or(None))
    assert rows is not None and 0 < len(rows) < len(snap) * 0.8  # it does leave some out
    some = predict_incursions(snap.take(rows), zones, accord, t_now_s=T0, depth=False,
                              plane=plane)
    assert len(every) > 100
    np.testing.assert_array_equal(rows[some.track], every.track)
    for name in ("zone", "t_entry_s", "t_exit_s", "entry_lat", "entry_lon", "exit_lat",
                 "exit_lon"):
        np.testing.assert_array_equal(getattr(some, name), getattr(every, name), err_msg=name)
    # the tracks left out are far from every zone they could enter
    out = np.setdiff1d(np.arange(len(snap)), rows)
    assert not np.isin(out, every.track).any()


def test_reach_takes_every_track_near_the_antimeridian() -> None:
    accord = default_accord()
    snap = _traffic(50, 0, 10.0, 179.5, 0.3)
    assert _Reach(node_zones(accord)).rows(snap, accord.lookahead_or(None)) is None


def _moving_rows(rng: np.random.Generator, n: int, step: int) -> list[dict[str, Any]]:
    rows = []
    for k in range(n):
        if (k + step) % 9 == 0:  # a few tracks come and go from tick to tick
            continue
        rows.append({"id": f"ac{k}", "party": ["us", "ru", "tr"][k % 3], "class": "manned",
                     "lat": 36.2 + 0.02 * (k % 13) + 0.01 * step,
                     "lon": 37.0 + 0.03 * (k // 13), "alt_ft": 20_000.0 + 300 * (k % 3),
                     "gs_kt": 300.0 + 40 * (k % 5), "trk_deg": float(rng.uniform(0, 360)),
                     "vs_fpm": 0.0})
    return rows


def test_the_ticks_changes_are_those_of_its_alerts(harness: Harness) -> None:
    """new, changed and cleared: computed from the alerts of two ticks, as dictionaries."""
    rng = np.random.default_rng(5)
    rt = harness.node.runtime
    before: dict[str, dict[str, Any]] = {}
    seen = {"new": 0, "changed": 0, "cleared": 0}
    for step in range(6):
        harness.clock.t = T0 + step
        harness.post_tracks(_moving_rows(rng, 120, step))
        report = rt.tick()
        after = dict(rt.alerts)
        assert [a["key"] for a in report.new_alerts] == [k for k in after if k not in before]
        assert report.new_alerts == [after[k] for k in after if k not in before]
        assert [a["key"] for a in report.changed_alerts] == [
            k for k in after if k in before and before[k]["level"] != after[k]["level"]]
        assert report.cleared_alerts == [k for k in before if k not in after]
        assert report.conflicts + report.incursions == len(after)
        for name, got in (("new", report.new_alerts), ("changed", report.changed_alerts),
                          ("cleared", report.cleared_alerts)):
            seen[name] += len(got)
        before = after
    assert all(seen.values()), seen  # the traffic did make each kind of change
    assert any(a["type"] == "incursion" for a in before.values())
