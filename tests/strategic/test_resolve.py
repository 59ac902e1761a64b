from __future__ import annotations

from pathlib import Path

import pytest

from skyaccord.protocol import default_accord
from skyaccord.store import SQLiteStore
from skyaccord.strategic.registry import Outcome, Registry
from skyaccord.strategic.resolve import (
    ResolutionLimits,
    earliest_shift,
    nearest_offset,
    resolve,
)
from skyaccord.strategic.volumes import Circle, Intent, Volume

T0 = 1_750_000_000.0


def circle(party: str, name: str, lon: float, z: tuple[float, float],
           t: tuple[float, float], r: float = 3000.0) -> Intent:
    return Intent(name, party, (Volume(Circle(35.0, lon, r), z[0], z[1], T0 + t[0],
                                       T0 + t[1]),))


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(SQLiteStore(tmp_path / "r.db"), default_accord())
    # two blocks of the other party over the same spot: 0-1 h at FL100-120,
    # 1h30-2 h at FL080-FL140; and one far away (irrelevant)
    for it in (circle("ru", "r1", 38.5, (10000, 12000), (0, 3600)),
               circle("ru", "r2", 38.52, (8000, 14000), (5400, 7200)),
               circle("ru", "far", 40.0, (0, 60000), (0, 86400))):
        assert r.submit(it).accepted
    return r


def brute_delay(reg: Registry, it: Intent, step: float, limit: float) -> float | None:
    s = 0.0
    while s <= limit:
        if not reg.check(it.shifted(dt_s=s)).blocking:
            return s
        s += step
    return None


def brute_offset(reg: Registry, it: Intent, step: float, lo: float, hi: float
                 ) -> float | None:
    cands = sorted((k * step for k in range(int(lo // step), int(hi // step) + 1)),
                   key=lambda c: (abs(c), -c))
    for c in cands:
        if not reg.check(it.shifted(dz_ft=c)).blocking:
            return c
    return None


def test_time_and_altitude_resolutions_are_minimal_and_accepted(reg: Registry) -> None:
    mine = circle("us", "u1", 38.51, (11000, 11500), (1800, 3000))
    assert reg.submit(mine).outcome is Outcome.CONFLICT
    lim = ResolutionLimits(max_delay_s=4 * 3600, alt_floor_ft=0, alt_ceiling_ft=30000,
                           time_step_s=60.0, alt_step_ft=100.0)
    res = resolve(reg, mine, lim)
    # hand: r1 ends at 3600 s, so the 20-min window must start at 3600 -> delay 1800 s;
    # but then it ends at 4800 and r2 starts at 5400: free. Altitude: r1 spans
    # 10,000-12,000 with 1,000 ft minima -> our 500 ft block must sit at or above 13,000
    # (offset +2,000) or with its top at or below 9,000 (offset -2,500).
    assert res.delay_s == 1800.0
    assert res.altitude_offset_ft == 2000.0
    assert res.delay_s == brute_delay(reg, mine, 60.0, lim.max_delay_s)
    assert res.altitude_offset_ft == brute_offset(reg, mine, 100.0, -11000, 18500)
    assert reg.submit(mine.shifted(dt_s=res.delay_s), reg.check(
        mine.shifted(dt_s=res.delay_s)).key).accepted


def test_resolution_respects_limits(reg: Registry) -> None:
    mine = circle("us", "u2", 38.51, (9000, 13000), (1800, 3000))
    # down needs -4,000 ft (top at 9,000, 1,000 ft under r1) and up +2,000 ft (top at
    # 15,000): a floor of 6,000 ft and a ceiling of 14,000 ft rule both out
    res = resolve(reg, mine, ResolutionLimits(max_delay_s=600, alt_floor_ft=6000,
                                              alt_ceiling_ft=14000))
    assert res.delay_s is None and res.altitude_offset_ft is None
    res = resolve(reg, mine, ResolutionLimits(max_delay_s=600, alt_floor_ft=5000,
                                              alt_ceiling_ft=14000))
    assert res.altitude_offset_ft == -4000.0
    # a longer wait: 1,800 s clears r1 and ends (4,800 s) before r2 starts (5,400 s)
    res = resolve(reg, mine, ResolutionLimits(max_delay_s=3 * 3600, time_step_s=60.0))
    assert res.delay_s == 1800.0 == brute_delay(reg, mine, 60.0, 3 * 3600)
    # a 2 h operation cannot fit between r1 and r2: it must wait until r2 ends (7,200 s)
    long_op = circle("us", "u3", 38.51, (9000, 13000), (1800, 1800 + 7200))
    res = resolve(reg, long_op, ResolutionLimits(max_delay_s=6 * 3600, time_step_s=60.0))
    assert res.delay_s == 7200 - 1800 == brute_delay(reg, long_op, 60.0, 6 * 3600)


def test_kernels_by_hand() -> None:
    assert earliest_shift([], 10, 1) == 0.0
    assert earliest_shift([(-1, 5.5), (5, 9)], 100, 1) == 9.0
    assert earliest_shift([(-1, 50)], 10, 1) is None
    assert nearest_offset([(-300, 200)], -1000, 1000, 100) == 200.0
    assert nearest_offset([(-200, 300)], -1000, 1000, 100) == -200.0
    assert nearest_offset([(-200, 200)], -1000, 1000, 100) == 200.0  # tie: upward
    assert nearest_offset([(-2000, 2000)], -1000, 1000, 100) is None
