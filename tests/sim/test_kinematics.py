"""The kinematics against hand-worked physics: turn rates, climb rates, racetracks, wind."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from skyaccord.geo import FT, KT, NM, LocalPlane
from skyaccord.sim.kinematics import Fleet, plans, turn_rate_rad_s
from skyaccord.sim.performance import PERFORMANCE
from skyaccord.sim.scenario import parse_scenario

CENTRE = (35.5, 36.5)
PLANE = LocalPlane(*CENTRE)


def ll(x_km: float, y_km: float) -> tuple[float, float]:
    lat, lon = PLANE.inverse(np.array([x_km * 1e3]), np.array([y_km * 1e3]))
    return round(float(lat[0]), 7), round(float(lon[0]), 7)


def scenario(missions: str, wind: str = "") -> str:
    return textwrap.dedent(f"""\
        name: k
        date: 2015-11-24
        start: "10:00"
        end: "12:00"
        centre: [{CENTRE[0]}, {CENTRE[1]}]
        {wind}
        missions:
        """) + textwrap.indent(textwrap.dedent(missions), "  ")


def fly(text: str, seconds: float, dt: float = 1.0) -> tuple[Fleet, list[np.ndarray]]:
    s = parse_scenario(text)
    fleet = Fleet(plans(s, PLANE, s.seed), wind_from_deg=s.wind.from_deg if s.wind else 0,
                  wind_kt=s.wind.speed_kt if s.wind else 0)
    fleet.advance(s.t_start)
    out = []
    t = s.t_start
    while t < s.t_start + seconds:
        t += dt
        fleet.advance(t, dt)
        out.append(np.array([fleet.x.copy(), fleet.y.copy(), fleet.z.copy(),
                             fleet.hdg.copy(), fleet.tas.copy(), fleet.active.copy()]))
    return fleet, out


def test_turn_rate_is_standard_or_bank_limited() -> None:
    # A320 at 450 kt, 25° bank: g·tan(25°)/v = 9.80665 × 0.46631 / 231.5 = 0.01975 rad/s
    assert float(turn_rate_rad_s(450 * KT, 25.0)) == pytest.approx(0.019754, rel=1e-4)
    # an MQ-1 at 75 kt turns at the standard rate (3°/s), its bank would allow more
    assert float(turn_rate_rad_s(75 * KT, 20.0)) == pytest.approx(math.radians(3.0))


def test_a_reversal_turns_at_the_bank_limited_rate() -> None:
    a, b, c = ll(0, 0), ll(0, 80), ll(0, -80)
    text = scenario(f"""\
        - id: C1
          party: civil
          type: A320
          start: "10:00"
          route: [[{a[0]}, {a[1]}, 33000], [{b[0]}, {b[1]}, 33000], [{c[0]}, {c[1]}, 33000]]
        """)
    _, states = fly(text, 900)
    hdg = np.unwrap(np.array([s[3][0] for s in states]))
    rate = np.abs(np.diff(hdg))
    turning = rate[rate > 1e-6]
    expected = float(turn_rate_rad_s(450 * KT, PERFORMANCE["A320"].bank_deg))
    # every turning second at the rate (the last second of the turn may be partial)
    assert np.median(turning) == pytest.approx(expected, rel=1e-6)
    assert turning.max() <= expected * (1 + 1e-9)
    # the first 180° of the reversal take pi / rate seconds
    start = int(np.argmax(rate > 1e-6))
    cum = np.cumsum(rate[start:])
    assert int(np.argmax(cum >= math.pi)) + 1 == pytest.approx(math.pi / expected, abs=1.5)


def test_climb_at_the_table_rate_then_level() -> None:
    a, b = ll(0, 0), ll(0, 300)
    text = scenario(f"""\
        - id: K1
          party: us
          type: KC-135R
          start: "10:00"
          start_alt_ft: 5000
          route: [[{a[0]}, {a[1]}, 5000], [{b[0]}, {b[1]}, 25000]]
        """)
    _, states = fly(text, 900)
    z_ft = np.array([s[2][0] for s in states]) / FT
    # 20,000 ft at 2,500 ft/min: 480 s, then level at 25,000 ft
    t_level = int(np.argmax(z_ft >= 25000 - 1e-6)) + 1
    assert t_level == pytest.approx(20000 / 2500 * 60, abs=1)
    assert np.diff(z_ft[:400]) == pytest.approx(2500 / 60, rel=1e-9)
    assert z_ft[-1] == pytest.approx(25000)


def test_racetrack_is_flown_until_its_time_then_the_route_goes_on() -> None:
    fix, home = ll(0, 0), ll(-50, 0)
    text = scenario(f"""\
        - id: D1
          party: us
          type: MQ-9A
          start: "10:00"
          route: [[{fix[0]}, {fix[1]}, 20000]]
          orbit: {{fix: [{fix[0]}, {fix[1]}, 20000], inbound_deg: 90, leg_nm: 10,
                   until: "11:00"}}
          then: [[{home[0]}, {home[1]}, 20000]]
        """)
    fleet, states = fly(text, 5400, dt=2.0)
    x = np.array([s[0][0] for s in states])
    y = np.array([s[1][0] for s in states])
    active = np.array([s[5][0] for s in states])
    t = np.arange(1, len(states) + 1) * 2.0
    orbit = (t > 600) & (t < 3600)
    radius = 200 * KT / float(turn_rate_rad_s(200 * KT, 20.0))
    # inside the racetrack's box: 10 NM inbound leg ending at the fix, 2R to the right
    assert x[orbit].max() < 2 * radius + 1000 and x[orbit].min() > -10 * NM - radius - 1000
    assert y[orbit].max() < radius + 1000 and y[orbit].min() > -2 * radius - 1000 - radius
    # it went round more than once, and left for home after 11:00
    laps = np.sum(np.diff(np.sign(x[orbit] + 5 * NM)) > 0)
    assert laps >= 3
    assert not active[-1] or x[-1] < x[orbit].min()
    assert not fleet.active[0]  # reached home: done


def test_wind_is_corrected_so_the_track_holds_the_course() -> None:
    a, b = ll(-100, 0), ll(100, 0)
    text = scenario(f"""\
        - id: E1
          party: us
          type: F-16C
          start: "10:00"
          route: [[{a[0]}, {a[1]}, 20000], [{b[0]}, {b[1]}, 20000]]
        """, wind="wind: {from_deg: 0, speed_kt: 60}")
    _, states = fly(text, 700)
    y = np.array([s[1][0] for s in states if s[5][0]])
    # a 60 kt crosswind would drift it 60/480 × 200 km = 25 km; corrected, it stays on
    # the line (the plane's straight line between the waypoints is y = 0)
    assert np.abs(y).max() < 200.0


def test_plans_are_deterministic_for_a_seed_and_jitter_with_it() -> None:
    a, b = ll(0, 0), ll(100, 0)
    text = scenario(f"""\
        - id: J1
          party: ru
          type: Su-34
          count: 3
          spacing_nm: 2
          start: "10:00"
          start_jitter_s: 600
          route: [[{a[0]}, {a[1]}, 20000], [{b[0]}, {b[1]}, 20000]]
        """)
    s = parse_scenario(text)
    p1 = [p.t_start for p in plans(s, PLANE, 7)]
    assert p1 == [p.t_start for p in plans(s, PLANE, 7)]
    assert p1 != [p.t_start for p in plans(s, PLANE, 8)]
    # a package in trail: 2 NM apart at the type's cruise speed
    gap = 2 * NM / (PERFORMANCE["Su-34"].cruise_kt * KT)
    assert np.diff(p1) == pytest.approx([gap, gap])
    assert s.t_start <= p1[0] <= s.t_start + 600


def test_the_compiled_flight_is_the_numpy_step() -> None:
    """The shipped day flown by the compiled loop and by the numpy step (the reference),
    compared every 10 s: the same states, the same waypoints, the same landings."""
    from skyaccord.sim.scenario import load_scenario, scenario_path

    s = load_scenario(scenario_path("syria2015"))
    assert s.wind is not None
    plane = LocalPlane(*s.centre)

    def fleet() -> Fleet:
        f = Fleet(plans(s, plane, 7), wind_from_deg=s.wind.from_deg if s.wind else 0,
                  wind_kt=s.wind.speed_kt if s.wind else 0)
        f.advance(s.t_start)
        return f

    a, b = fleet(), fleet()
    t, flew = s.t_start, 0
    while t < s.t_end:
        t += 10.0
        a.advance(t)
        b.advance(t, compiled=False)
        assert a.t == b.t
        assert np.array_equal(a.active, b.active) and np.array_equal(a.wp, b.wp), t
        for name in ("x", "y", "z", "hdg", "tas", "vz"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0,
                                       atol=1e-6, err_msg=name)
        flew += int(a.active.sum())
    assert flew > 1000 and (a.started & ~a.active).sum() > 10  # many flew their plan out
