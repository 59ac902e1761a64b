"""Encounter minima against brute force on piecewise-linear tracks, a hand-worked pair,
and the severity classes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skyaccord.analysis.encounters import Encounters, encounters
from skyaccord.analysis.rundata import TrackGrid
from skyaccord.analysis.severity import classify
from skyaccord.geo import FT, NM
from skyaccord.protocol import default_accord


def grid_of(t: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> TrackGrid:
    vx = np.gradient(x, t, axis=0)
    vy = np.gradient(y, t, axis=0)
    n = x.shape[1]
    return TrackGrid(t, [f"A{k}" for k in range(n)], x, y, z, np.zeros_like(x),
                     np.zeros_like(x), vx, vy)


def brute(t: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, a: int, b: int,
          r: float, h: float, per: int = 4000) -> tuple[float, float, float, float]:
    """Closest horizontal approach (distance, time, |dz| then) and seconds in loss of
    separation, by sampling the linear interpolation ``per`` times per interval."""
    best = (math.inf, math.nan, math.nan)
    los = 0.0
    for k in range(len(t) - 1):
        if not np.isfinite([x[k, a], x[k + 1, a], x[k, b], x[k + 1, b]]).all():
            continue
        s = (np.arange(per) + 0.5) / per

        def at(v: np.ndarray, c: int, k: int = k, s: np.ndarray = s) -> np.ndarray:
            return v[k, c] + (v[k + 1, c] - v[k, c]) * s

        d = np.hypot(at(x, a) - at(x, b), at(y, a) - at(y, b))
        dz = np.abs(at(z, a) - at(z, b))
        j = int(np.argmin(d))
        if d[j] < best[0]:
            best = (float(d[j]), float(t[k] + s[j] * (t[k + 1] - t[k])), float(dz[j]))
        los += float(np.sum((d < r) & (dz < h))) * (t[k + 1] - t[k]) / per
    return best[0], best[1], best[2], los


@pytest.mark.parametrize("seed", range(6))
def test_minima_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, steps = 5, 40
    t = np.cumsum(rng.uniform(4.0, 12.0, steps))
    # random walks that meet: every aircraft wanders in a 30 km box around the origin
    x = np.cumsum(rng.normal(0, 1500, (steps, n)), axis=0) + rng.normal(0, 5000, n)
    y = np.cumsum(rng.normal(0, 1500, (steps, n)), axis=0) + rng.normal(0, 5000, n)
    z = 6000 + np.cumsum(rng.normal(0, 60, (steps, n)), axis=0)
    # some aircraft not airborne for a while
    x[:5, 0] = np.nan
    y[:5, 0] = np.nan
    z[:5, 0] = np.nan
    x[-7:, 3] = y[-7:, 3] = z[-7:, 3] = np.nan
    accord = default_accord()
    enc = encounters(grid_of(t, x, y, z), accord, ["manned"] * n, screen_m=1e9)
    assert len(enc) == n * (n - 1) // 2
    r = 5 * NM - 1e-6 * NM
    h = 1000 * FT - 1e-6 * FT
    for k in range(len(enc)):
        a, b = int(enc.a[k]), int(enc.b[k])
        d, tc, dz, los = brute(t, x, y, z, a, b, r, h)
        # the dense sample can only be farther than the exact minimum, by a little
        assert enc.h_miss_m[k] <= d + 1e-6
        assert enc.h_miss_m[k] == pytest.approx(d, abs=2.0)
        assert enc.t_cpa[k] == pytest.approx(tc, abs=0.05)
        assert enc.v_miss_m[k] == pytest.approx(dz, abs=0.5)
        assert enc.los_s[k] == pytest.approx(los, abs=0.02)
        assert enc.r_m[k] == r and enc.h_m[k] == h


def test_hand_worked_head_on_pass() -> None:
    """Two aircraft head-on on parallel tracks 1 NM apart at 480 kt, 300 ft apart: the
    closest approach is 1 NM at the midpoint in time; separation is lost while the
    along-track distance is under sqrt(5² - 1²) NM, for 2·sqrt(24) NM at 960 kt."""
    v = 480 * 1852 / 3600
    t = np.arange(0.0, 601.0, 10.0)
    xa, xb = -60_000 + v * t, 60_000 - v * t
    x = np.column_stack([xa, xb])
    y = np.column_stack([np.zeros_like(t), np.full_like(t, NM)])
    z = np.column_stack([np.full_like(t, 6000.0), np.full_like(t, 6000.0 + 300 * FT)])
    enc = encounters(grid_of(t, x, y, z), default_accord(), ["manned", "manned"])
    assert len(enc) == 1
    assert enc.h_miss_m[0] == pytest.approx(NM, abs=1e-6)
    assert enc.t_cpa[0] == pytest.approx(60_000 / v, abs=1e-6)
    assert enc.v_miss_m[0] == pytest.approx(300 * FT)
    r = 5 * NM - 1e-6 * NM  # the accord's minimum less the detector's tolerance
    assert enc.los_s[0] == pytest.approx(2 * math.sqrt(r * r - NM * NM) / (2 * v), abs=1e-6)
    assert enc.angle_deg[0] == pytest.approx(180.0, abs=1e-6)
    assert enc.closure_m_s[0] == pytest.approx(2 * v, rel=1e-3)
    # 1/5 of the horizontal minimum and 300/1000 of the vertical: under half of both
    assert enc.ratio[0] == pytest.approx(0.3, rel=1e-6)
    assert classify(enc).tolist() == ["B"]


def _enc(h_nm: float, v_ft: float, los: float, ratio: float, gap: bool = False
         ) -> Encounters:
    f = np.array
    return Encounters(f([0]), f([1]), f([0.0]), f([h_nm * NM]), f([v_ft * FT]), f([0.0]),
                      f([0.0]), f([los]), f([0.0 if los else np.nan]), f([ratio]),
                      f([h_nm * NM]), f([v_ft * FT]), f([gap]), f([5 * NM]),
                      f([1000 * FT]))


@pytest.mark.parametrize(("h_nm", "v_ft", "los", "ratio", "gap", "cls"), [
    (0.05, 50, 20.0, 0.05, False, "A"),   # inside 500 ft / 100 ft: near mid-air collision
    (0.05, 150, 20.0, 0.15, False, "B"),  # 150 ft vertical: not an NMAC, deep loss
    (2.0, 400, 20.0, 0.4, False, "B"),
    (3.0, 400, 20.0, 0.6, False, "C"),    # a loss of separation, not under half
    (6.0, 400, 0.0, 1.2, False, "E"),     # no loss of separation
    (3.0, 400, 20.0, 0.6, True, "D"),     # track lost at the closest approach
])
def test_severity_classes(h_nm: float, v_ft: float, los: float, ratio: float, gap: bool,
                          cls: str) -> None:
    assert classify(_enc(h_nm, v_ft, los, ratio, gap)).tolist() == [cls]


def test_empty_and_single_aircraft() -> None:
    t = np.arange(5.0)
    one = np.zeros((5, 1))
    enc = encounters(grid_of(t, one, one, one), default_accord(), ["manned"])
    assert len(enc) == 0 and enc.h_miss_m.dtype == np.float64
