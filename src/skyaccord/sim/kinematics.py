"""Flight plans from a scenario, and a vectorized point-mass model that flies them.

Each aircraft follows its plan's waypoints in the scenario's local plane (the conformal
:class:`~skyaccord.geo.LocalPlane`, metres): it turns towards the next waypoint at the
standard rate or slower where its bank limit says so (``ω = min(3 °/s, g·tan(bank)/v)``),
anticipates fly-by waypoints by ``R·tan(Δ/2)`` (Δ at most 90°) so that it rolls out on the next leg,
corrects its heading for the wind, climbs and descends at its type's rates and changes
speed at its acceleration. A racetrack is a loop of four waypoints flown until its time.
All state is struct-of-arrays. :meth:`Fleet.advance` flies the sub-steps in a compiled
loop (numba, :func:`_fly`: a sweep's run flies hours before its window, and a step of
numpy operations over a few dozen aircraft costs its calls, not its arithmetic);
:meth:`Fleet._step`, the same step as numpy operations over all aircraft, is the
reference it is tested against. Nothing here is random: the plans are (seeded start
jitter is drawn in :func:`plans`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from skyaccord.geo import FPM, FT, KT, NM, LocalPlane
from skyaccord.sim.performance import STANDARD_RATE_DEG_S, Performance, performance
from skyaccord.sim.scenario import Mission, Scenario, Waypoint

__all__ = ["Fleet", "FlightPlan", "States", "plans", "turn_rate_rad_s"]

FloatArray = npt.NDArray[np.float64]
G = 9.80665


def turn_rate_rad_s(tas_m_s: FloatArray | float, bank_deg: FloatArray | float
                    ) -> FloatArray:
    """Standard rate, or the bank-limited rate ``g·tan(bank)/v`` where that is lower."""
    v = np.maximum(np.asarray(tas_m_s, dtype=float), 1.0)
    rate: FloatArray = np.minimum(math.radians(STANDARD_RATE_DEG_S),
                      G * np.tan(np.radians(bank_deg)) / v)
    return rate


@dataclass(frozen=True)
class FlightPlan:
    """One aircraft's plan: where and when it starts, its waypoints and racetrack."""

    id: str
    mission: str
    party: str
    aircraft_class: str
    type: str
    callsign: str
    t_start: float
    start: tuple[float, float, float]
    """(x_m, y_m, alt_m) where it appears"""
    airborne: bool
    """appears at cruise speed (entering the theatre) rather than departing a base"""
    points: FloatArray
    """(n, 3): x_m, y_m, alt_m of each waypoint"""
    speeds_m_s: FloatArray
    """(n,): the speed to fly towards each waypoint (NaN: the type's cruise)"""
    loop: tuple[int, int, float] | None
    """(first, last, until t): the racetrack's waypoints, flown again until ``until``"""
    intent: bool
    notice_s: float | None


def _xy(plane: LocalPlane, lat: float, lon: float) -> tuple[float, float]:
    x, y = plane.forward(np.array([lat]), np.array([lon]))
    return float(x[0]), float(y[0])


def _point(s: Scenario, plane: LocalPlane, w: Waypoint) -> tuple[float, float, float, float]:
    lat, lon, alt_ft = s.point(w)
    x, y = _xy(plane, lat, lon)
    return x, y, alt_ft * FT, (w.speed_kt * KT if w.speed_kt is not None else math.nan)


def _racetrack(s: Scenario, plane: LocalPlane, m: Mission, perf: Performance
               ) -> list[tuple[float, float, float, float]]:
    assert m.orbit is not None
    o = m.orbit
    fx, fy, fz, v = _point(s, plane, o.fix)
    tas = v if math.isfinite(v) else perf.cruise_kt * KT
    radius = tas / float(turn_rate_rad_s(tas, perf.bank_deg))
    c = math.radians(o.inbound_deg)
    ux, uy = math.sin(c), math.cos(c)
    side = 1.0 if o.turn == "right" else -1.0
    px, py = side * uy, -side * ux  # perpendicular to the turn's side
    leg = o.leg_nm * NM
    sx, sy = fx - leg * ux, fy - leg * uy
    w = 2.0 * radius
    return [(sx, sy, fz, v), (fx, fy, fz, v), (fx + w * px, fy + w * py, fz, v),
            (sx + w * px, sy + w * py, fz, v)]


def plans(s: Scenario, plane: LocalPlane, seed: int) -> list[FlightPlan]:
    """Every aircraft's plan: missions (a package of ``count`` in trail) and civil flows.

    ``seed`` draws the missions' start jitter (the only randomness of the plans)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    out: list[FlightPlan] = []
    for m in s.missions:
        perf = performance(m.type)
        cls = m.aircraft_class or perf.aircraft_class
        pts = [_point(s, plane, w) for w in m.route]
        loop = None
        if m.orbit is not None:
            first = len(pts)
            pts += _racetrack(s, plane, m, perf)
            loop = (first, len(pts) - 1, s.time(m.orbit.until))
        pts += [_point(s, plane, w) for w in m.then]
        arr = np.array(pts, dtype=float)
        jitter = float(rng.uniform(0.0, m.start_jitter_s)) if m.start_jitter_s else 0.0
        t0 = s.time(m.start) + jitter
        if m.from_ is not None:
            base = s.place(m.from_)
            bx, by = _xy(plane, base.lat, base.lon)
            alt = (m.start_alt_ft if m.start_alt_ft is not None else base.elev_ft + 1500.0)
            start, airborne = (bx, by, alt * FT), False
        else:
            start, airborne = (float(arr[0, 0]), float(arr[0, 1]), float(arr[0, 2])), True
        trail_s = m.spacing_nm * NM / (perf.cruise_kt * KT)
        for k in range(m.count):
            ident = m.id if m.count == 1 else f"{m.id}-{k + 1}"
            out.append(FlightPlan(ident, m.id, m.party, cls, m.type, m.callsign or ident,
                                  t0 + k * trail_s, start, airborne, arr[:, :3].copy(),
                                  arr[:, 3].copy(), loop, m.intent, m.notice_s))
    for f in s.flows:
        perf = performance(f.type)
        fixes = [s.place(n) for n in f.airway]
        xy = np.array([_xy(plane, p.lat, p.lon) for p in fixes])
        t, k, t_last = s.time(f.first), 0, s.time(f.last)
        while t <= t_last:
            forward = (k % 2 == 0) or not f.both_ways
            path = xy if forward else xy[::-1]
            alt = f.fl[k % len(f.fl)] * 100.0 * FT
            pts_arr = np.column_stack([path, np.full(len(path), alt),
                                       np.full(len(path), math.nan)])
            ident = f"{f.prefix}{k + 1:03d}"
            out.append(FlightPlan(ident, ident, f.party, perf.aircraft_class, f.type, ident,
                                  t, (float(path[0, 0]), float(path[0, 1]), alt), True,
                                  pts_arr[:, :3].copy(), pts_arr[:, 3].copy(), None, False,
                                  None))
            t += f.every_s
            k += 1
    return out


class States(NamedTuple):
    """The airborne aircraft at one instant (rows of the fleet that are active)."""

    rows: npt.NDArray[np.intp]
    x_m: FloatArray
    y_m: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    trk_deg: FloatArray
    vs_fpm: FloatArray


class Fleet:
    """All aircraft of a run as arrays, flown forward by :meth:`advance`."""

    def __init__(self, flight_plans: list[FlightPlan], *, wind_from_deg: float = 0.0,
                 wind_kt: float = 0.0) -> None:
        self.plans = flight_plans
        n = len(flight_plans)
        m = max((len(p.points) for p in flight_plans), default=1)
        perf = [performance(p.type) for p in flight_plans]
        self.n = n
        self.wp_xyz = np.zeros((n, m, 3))
        self.wp_v = np.full((n, m), np.nan)
        self.n_wp = np.zeros(n, dtype=np.intp)
        for i, p in enumerate(flight_plans):
            k = len(p.points)
            self.wp_xyz[i, :k] = p.points
            self.wp_v[i, :k] = p.speeds_m_s
            self.n_wp[i] = k
        self.cruise = np.array([q.cruise_kt * KT for q in perf])
        self.wp_v = np.where(np.isnan(self.wp_v), self.cruise[:, None], self.wp_v)
        self.vmin = np.array([q.min_kt * KT for q in perf])
        self.vmax = np.array([q.max_kt * KT for q in perf])
        self.wp_v = np.clip(self.wp_v, self.vmin[:, None], self.vmax[:, None])
        self.climb = np.array([q.climb_fpm * FPM for q in perf])
        self.descent = np.array([q.descent_fpm * FPM for q in perf])
        self.bank = np.array([q.bank_deg for q in perf])
        self.ceiling = np.array([q.ceiling_ft * FT for q in perf])
        self.accel = np.array([q.accel_kt_s * KT for q in perf])
        self.t_start = np.array([p.t_start for p in flight_plans])
        self.loop_first = np.array([p.loop[0] if p.loop else -1 for p in flight_plans])
        self.loop_last = np.array([p.loop[1] if p.loop else -1 for p in flight_plans])
        self.loop_until = np.array([p.loop[2] if p.loop else -np.inf for p in flight_plans])
        # wind: the direction it blows from → the velocity it adds (to)
        wd = math.radians(wind_from_deg) + math.pi
        self.wind = (wind_kt * KT * math.sin(wd), wind_kt * KT * math.cos(wd))
        self.x = np.zeros(n)
        self.y = np.zeros(n)
        self.z = np.zeros(n)
        self.hdg = np.zeros(n)
        self.tas = np.zeros(n)
        self.vz = np.zeros(n)
        self.wp = np.zeros(n, dtype=np.intp)
        self.active = np.zeros(n, dtype=bool)
        self.started = np.zeros(n, dtype=bool)
        self.t = -math.inf

    def _start(self, t: float) -> None:
        new = np.flatnonzero(~self.started & (self.t_start <= t))
        for i in new.tolist():
            p = self.plans[i]
            self.x[i], self.y[i], self.z[i] = p.start
            first = self.wp_xyz[i, 0]
            if (self.n_wp[i] > 1 and math.hypot(first[0] - self.x[i], first[1] - self.y[i])
                    < 1.0):
                self.wp[i] = 1  # it enters at its first waypoint: on to the next
            tx, ty = self.wp_xyz[i, self.wp[i], 0], self.wp_xyz[i, self.wp[i], 1]
            brg = math.atan2(tx - self.x[i], ty - self.y[i])
            tas = float(self.wp_v[i, self.wp[i]])
            cross = self.wind[0] * math.cos(brg) - self.wind[1] * math.sin(brg)
            self.hdg[i] = brg - math.asin(max(-0.9, min(0.9, cross / max(tas, 1.0))))
            self.tas[i] = (self.wp_v[i, self.wp[i]] if p.airborne
                           else max(self.vmin[i] * 1.3, 0.6 * self.cruise[i]))
        self.started[new] = True
        self.active[new] = True

    def advance(self, t_to: float, dt: float = 2.0, *, compiled: bool = True) -> None:
        """Fly every aircraft forward to ``t_to`` in sub-steps of at most ``dt``
        (``compiled`` False: with :meth:`_step`, the numpy reference)."""
        if not math.isfinite(self.t):
            self.t = t_to
            self._start(t_to)
            return
        while self.t < t_to - 1e-9:
            if compiled:
                # the sub-steps until one would start an aircraft, in one compiled call
                waiting = self.t_start[~self.started]
                self.t = _fly(*self._state(), self.t, t_to, dt,  # type: ignore[call-arg]
                              float(waiting.min()) if waiting.size else math.inf, -1)
                if self.t >= t_to - 1e-9:
                    break
            h = min(dt, t_to - self.t)
            self._start(self.t + h)
            if compiled:  # that one sub-step (the same time arithmetic as below)
                self.t = _fly(*self._state(), self.t, t_to, dt,  # type: ignore[call-arg]
                              math.inf, 1)
            else:
                self.t += h
                self._step(h)

    def _state(self) -> tuple[Any, ...]:
        """What :func:`_fly` reads and moves (the arrays are updated in place)."""
        return (self.x, self.y, self.z, self.hdg, self.tas, self.vz, self.wp, self.active,
                self.wp_xyz, self.wp_v, self.n_wp, self.bank, self.accel, self.climb,
                self.descent, self.ceiling, self.loop_first, self.loop_last,
                self.loop_until, self.wind[0], self.wind[1])

    def _step(self, dt: float) -> None:
        # Whole arrays, inactive rows masked at the end: cheaper than gathering the
        # active rows for the few dozen aircraft of a theatre.
        act = self.active
        if not act.any():
            return
        rng = np.arange(self.n)
        wp = self.wp
        tgt = self.wp_xyz[rng, wp]
        dx, dy = tgt[:, 0] - self.x, tgt[:, 1] - self.y
        dist = np.hypot(dx, dy)
        brg = np.arctan2(dx, dy)
        tas = self.tas
        wx, wy = self.wind
        cross = wx * np.cos(brg) - wy * np.sin(brg)  # wind across the course, to the right
        want = brg - np.arcsin(np.clip(cross / np.maximum(tas, 1.0), -0.9, 0.9))
        err = (want - self.hdg + np.pi) % (2 * np.pi) - np.pi
        omega = turn_rate_rad_s(tas, self.bank)
        hdg = self.hdg + np.clip(err, -omega * dt, omega * dt)
        v_t = self.wp_v[rng, wp]
        tas = tas + np.clip(v_t - tas, -self.accel * dt, self.accel * dt)
        z_t = np.minimum(tgt[:, 2], self.ceiling)
        vz = np.clip((z_t - self.z) / dt, -self.descent, self.climb)
        vx, vy = tas * np.sin(hdg) + wx, tas * np.cos(hdg) + wy
        self.hdg = np.where(act, hdg, self.hdg)
        self.tas = np.where(act, tas, self.tas)
        self.vz = np.where(act, vz, self.vz)
        self.z = np.where(act, self.z + vz * dt, self.z)
        self.x = np.where(act, self.x + vx * dt, self.x)
        self.y = np.where(act, self.y + vy * dt, self.y)
        # waypoint passage: fly-by anticipation R·tan(Δ/2) toward the next leg
        looped = (wp == self.loop_last) & (self.t < self.loop_until)
        nxt = np.where(looped, self.loop_first, np.minimum(wp + 1, self.n_wp - 1))
        after = self.wp_xyz[rng, nxt]
        leg = np.arctan2(after[:, 0] - tgt[:, 0], after[:, 1] - tgt[:, 1])
        delta = np.abs((leg - brg + np.pi) % (2 * np.pi) - np.pi)
        radius = tas / omega
        lead = radius * np.tan(np.minimum(delta, np.radians(90.0)) / 2.0)
        gs = np.hypot(vx, vy)
        rem = np.hypot(tgt[:, 0] - self.x, tgt[:, 1] - self.y)
        # a waypoint inside the turning circle cannot be reached: count it flown
        unreachable = dist < 0.95 * 2.0 * radius * np.abs(np.sin(err))
        passed = act & ((rem <= np.maximum(lead, gs * dt)) | unreachable)
        if not passed.any():
            return
        last = passed & ~looped & (wp + 1 >= self.n_wp)
        self.wp = np.where(passed & looped, self.loop_first,
                           np.where(passed & ~last, wp + 1, wp))
        self.active = act & ~last  # landed, or left the theatre

    def states(self) -> States:
        """The active aircraft now: positions and the velocities a radar would report."""
        i = np.flatnonzero(self.active)
        wx, wy = self.wind
        vx = self.tas[i] * np.sin(self.hdg[i]) + wx
        vy = self.tas[i] * np.cos(self.hdg[i]) + wy
        return States(i, self.x[i].copy(), self.y[i].copy(), self.z[i] / FT,
                      np.hypot(vx, vy) / KT, np.degrees(np.arctan2(vx, vy)) % 360.0,
                      self.vz[i] / FPM)

    def done(self) -> bool:
        """Every aircraft has flown its plan."""
        return bool(self.started.all() and not self.active.any())


_STANDARD_RATE_RAD_S = math.radians(STANDARD_RATE_DEG_S)


@numba.njit(cache=True, nogil=True)
def _fly(x: Any, y: Any, z: Any, hdg: Any, tas: Any, vz: Any, wp: Any, active: Any,
         wp_xyz: Any, wp_v: Any, n_wp: Any, bank: Any, accel: Any, climb: Any,
         descent: Any, ceiling: Any, loop_first: Any, loop_last: Any, loop_until: Any,
         wx: float, wy: float, t: float, t_to: float, dt: float, t_stop: float,
         max_steps: int) -> float:  # pragma: no cover - compiled; tested against _step
    """:meth:`Fleet._step` aircraft by aircraft, for every sub-step from ``t`` towards
    ``t_to`` whose end is before ``t_stop`` (when an aircraft starts: the caller starts
    it), at most ``max_steps`` (negative: no limit). Returns the time reached. The same
    operations in the same order as the numpy step, so the same numbers."""
    pi = math.pi
    steps = 0
    while t < t_to - 1e-9 and steps != max_steps:
        h = min(dt, t_to - t)
        if t + h >= t_stop:
            break
        t += h
        steps += 1
        for i in range(x.shape[0]):
            if not active[i]:
                continue
            w = wp[i]
            tx, ty, tz = wp_xyz[i, w, 0], wp_xyz[i, w, 1], wp_xyz[i, w, 2]
            dx, dy = tx - x[i], ty - y[i]
            dist = math.hypot(dx, dy)
            brg = math.atan2(dx, dy)
            v0 = tas[i]
            cross = wx * math.cos(brg) - wy * math.sin(brg)
            ratio = min(max(cross / max(v0, 1.0), -0.9), 0.9)
            want = brg - math.asin(ratio)
            err = (want - hdg[i] + pi) % (2 * pi) - pi
            omega = min(_STANDARD_RATE_RAD_S,
                        G * math.tan(math.radians(bank[i])) / max(v0, 1.0))
            new_hdg = hdg[i] + min(max(err, -omega * h), omega * h)
            v = v0 + min(max(wp_v[i, w] - v0, -accel[i] * h), accel[i] * h)
            z_t = min(tz, ceiling[i])
            new_vz = min(max((z_t - z[i]) / h, -descent[i]), climb[i])
            vx, vy = v * math.sin(new_hdg) + wx, v * math.cos(new_hdg) + wy
            hdg[i], tas[i], vz[i] = new_hdg, v, new_vz
            z[i] = z[i] + new_vz * h
            x[i] = x[i] + vx * h
            y[i] = y[i] + vy * h
            looped = w == loop_last[i] and t < loop_until[i]
            nxt = loop_first[i] if looped else min(w + 1, n_wp[i] - 1)
            leg = math.atan2(wp_xyz[i, nxt, 0] - tx, wp_xyz[i, nxt, 1] - ty)
            delta = abs((leg - brg + pi) % (2 * pi) - pi)
            radius = v / omega
            lead = radius * math.tan(min(delta, math.radians(90.0)) / 2.0)
            gs = math.hypot(vx, vy)
            rem = math.hypot(tx - x[i], ty - y[i])
            unreachable = dist < 0.95 * 2.0 * radius * abs(math.sin(err))
            if rem <= max(lead, gs * h) or unreachable:
                if looped:
                    wp[i] = loop_first[i]
                elif w + 1 >= n_wp[i]:
                    active[i] = False  # landed, or left the theatre
                else:
                    wp[i] = w + 1
    return t
