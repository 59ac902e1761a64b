"""Encounters: each pair's closest approach on recorded tracks, and its losses of
separation, from positions sampled at common times.

Between two samples both aircraft are taken to fly straight at constant speed (linear
interpolation of the recorded positions), so the pair's relative position is linear in
time on each interval: the horizontal closest approach of an interval is the minimum of
a quadratic (closed form), and the times in loss of separation (``d < R`` and
``|dz| < H``, the accord's minima for the class pair, strict as in
:mod:`skyaccord.tactical`) are the intersection of the quadratic's and the linear
vertical inequality's intervals (closed form too). Pairs are screened on the samples
(closest sampled distance within ``screen_m`` plus what the pair can close in one
interval) so a theatre day of a few hundred aircraft takes seconds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.analysis.rundata import TrackGrid
from skyaccord.geo import FT, NM
from skyaccord.protocol import Accord

__all__ = ["Encounters", "encounters", "pair_series"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class Encounters(NamedTuple):
    """One row per pair that came within the screen (index pairs ``a < b`` into the
    grid's aircraft), sorted by closest horizontal approach."""

    a: IntArray
    b: IntArray
    t_cpa: FloatArray
    """UTC seconds of the closest horizontal approach"""
    h_miss_m: FloatArray
    """horizontal distance then"""
    v_miss_m: FloatArray
    """vertical distance then (absolute)"""
    closure_m_s: FloatArray
    """horizontal relative speed at the closest approach (how fast they met)"""
    angle_deg: FloatArray
    """angle between the two ground tracks at the closest approach (0 same direction,
    180 head-on)"""
    los_s: FloatArray
    """seconds in loss of separation"""
    t_los: FloatArray
    """first time in loss of separation (NaN: none)"""
    ratio: FloatArray
    """min over time of max(d / R, |dz| / H), on the intervals' ends and closest
    approaches: below 1 means a loss of separation, the smaller the deeper"""
    ratio_h_m: FloatArray
    ratio_v_m: FloatArray
    """horizontal and vertical distances at that minimum"""
    gap: npt.NDArray[np.bool_]
    """a track is missing next to the closest approach (severity not determined)"""
    r_m: FloatArray
    h_m: FloatArray
    """the minima applied (the accord's for the pair's classes)"""

    def __len__(self) -> int:
        return len(self.a)


def _interval_quadratic(a: FloatArray, b: FloatArray, c: FloatArray
                        ) -> tuple[FloatArray, FloatArray]:
    """[lo, hi] ∩ [0, 1] where ``a s² + b s + c < 0`` (a >= 0); empty as lo > hi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - 4 * a * c
        sq = np.sqrt(np.maximum(disc, 0.0))
        lo = np.where(a > 0, (-b - sq) / (2 * a), np.where(c < 0, 0.0, 1.0))
        hi = np.where(a > 0, (-b + sq) / (2 * a), np.where(c < 0, 1.0, 0.0))
        empty = (a > 0) & (disc <= 0)
        lo = np.where(empty, 1.0, lo)
        hi = np.where(empty, 0.0, hi)
        # a == 0 with b != 0 (constant relative velocity 0 has b = 0 too): c < 0 all
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def _interval_linear(z0: FloatArray, dz: FloatArray, h: FloatArray
                     ) -> tuple[FloatArray, FloatArray]:
    """[lo, hi] ∩ [0, 1] where ``|z0 + dz s| < h``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = (-h - z0) / dz
        s2 = (h - z0) / dz
        lo = np.where(dz != 0, np.minimum(s1, s2), np.where(np.abs(z0) < h, 0.0, 1.0))
        hi = np.where(dz != 0, np.maximum(s1, s2), np.where(np.abs(z0) < h, 1.0, 0.0))
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def pair_series(grid: TrackGrid, a: int, b: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(t, horizontal m, vertical m) of a pair on the grid's times (NaN when apart)."""
    dh = np.hypot(grid.x_m[:, a] - grid.x_m[:, b], grid.y_m[:, a] - grid.y_m[:, b])
    return grid.t, dh, np.abs(grid.z_m[:, a] - grid.z_m[:, b])


def encounters(grid: TrackGrid, accord: Accord, classes: list[str], *,
               screen_m: float = 10 * NM, chunk: int = 4096,
               groups: list[str] | None = None) -> Encounters:
    """Every pair of the grid's aircraft whose closest approach is within ``screen_m``.

    ``classes`` gives each aircraft's accord class (for the minima); pairs of the same
    ``groups`` entry (a formation: one mission's package) are left out.
    """
    n = len(grid.ids)
    radius, half = accord.minima_table_m()
    codes = np.array([accord.class_code(c) for c in classes], dtype=np.intp)
    ia, ib = np.triu_indices(n, k=1)
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        apart = g[ia] != g[ib]
        ia, ib = ia[apart], ib[apart]
    if len(grid.t) < 1 or n < 2:
        return _empty()
    x, y, _z = grid.x_m, grid.y_m, grid.z_m
    # screen on the samples, with the distance the pair can close in one interval
    dt_max = float(np.max(np.diff(grid.t))) if len(grid.t) > 1 else 0.0
    gs = np.hypot(grid.vx_m_s, grid.vy_m_s)
    speed = np.max(np.where(np.isfinite(gs), gs, 0.0), axis=0)
    keep_a: list[IntArray] = []
    keep_b: list[IntArray] = []
    for s in range(0, len(ia), chunk):
        pa, pb = ia[s:s + chunk], ib[s:s + chunk]
        d = np.hypot(x[:, pa] - x[:, pb], y[:, pa] - y[:, pb])
        with np.errstate(invalid="ignore"):
            dmin = np.nanmin(np.where(np.isnan(d), np.inf, d), axis=0)
        slack = (speed[pa] + speed[pb]) * dt_max / 2.0
        ok = dmin <= screen_m + slack
        keep_a.append(pa[ok])
        keep_b.append(pb[ok])
    pa = np.concatenate(keep_a)
    pb = np.concatenate(keep_b)
    # the minima less the detector's tolerance (1e-6 NM, 1e-6 ft; README "Detection
    # rules"): RVSM traffic exactly 1,000 ft apart is separated here too
    radius = radius - 1e-6 * NM
    half = half - 1e-6 * FT
    rows = [_pair(grid, int(i), int(j), float(radius[codes[i], codes[j]]),
                  float(half[codes[i], codes[j]])) for i, j in zip(pa, pb, strict=True)]
    rows = [r for r in rows if r is not None and r[2] <= screen_m]
    if not rows:
        return _empty()
    cols = list(zip(*rows, strict=True))
    order = np.argsort(np.asarray(cols[2], dtype=float), kind="stable")

    def col(k: int) -> FloatArray:
        return np.asarray(cols[k], dtype=np.float64)[order]

    def idx(k: int) -> IntArray:
        return np.asarray(cols[k], dtype=np.intp)[order]

    return Encounters(idx(0), idx(1), col(3), col(2), col(4), col(5), col(6), col(7),
                      col(8), col(9), col(10), col(11),
                      np.asarray(cols[12], dtype=bool)[order], col(13), col(14))


def _empty() -> Encounters:
    f = np.zeros(0)
    i = np.zeros(0, dtype=np.intp)
    return Encounters(i, i, f, f, f, f, f, f, f, f, f, f, np.zeros(0, dtype=bool), f, f)


def _pair(grid: TrackGrid, a: int, b: int, r_m: float, h_m: float
          ) -> tuple[float, ...] | None:
    t = grid.t
    rx = grid.x_m[:, b] - grid.x_m[:, a]
    ry = grid.y_m[:, b] - grid.y_m[:, a]
    rz = grid.z_m[:, b] - grid.z_m[:, a]
    both = np.isfinite(rx) & np.isfinite(rz)
    if not both.any():
        return None
    seg = both[:-1] & both[1:]
    k = np.flatnonzero(seg)
    # closest horizontal approach: the sampled minimum, then each interval's quadratic
    idx = np.flatnonzero(both)
    d_s = np.hypot(rx[idx], ry[idx])
    best = int(np.argmin(d_s))
    best_t, best_d = float(t[idx[best]]), float(d_s[best])
    best_dz = float(abs(rz[idx[best]]))
    gap_near = False
    los_s, t_los = 0.0, float("nan")
    ratio_s = np.maximum(d_s / r_m, np.abs(rz[idx]) / h_m)
    rb = int(np.argmin(ratio_s))
    ratio, ratio_h, ratio_v = float(ratio_s[rb]), float(d_s[rb]), float(abs(rz[idx[rb]]))
    if k.size:
        x0, y0, z0 = rx[k], ry[k], rz[k]
        dx, dy, dzv = rx[k + 1] - x0, ry[k + 1] - y0, rz[k + 1] - z0
        qa = dx * dx + dy * dy
        qb = 2 * (x0 * dx + y0 * dy)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_star = np.clip(np.where(qa > 0, -(x0 * dx + y0 * dy) / qa, 0.0), 0.0, 1.0)
        d_star = np.hypot(x0 + dx * s_star, y0 + dy * s_star)
        z_star = np.abs(z0 + dzv * s_star)
        j = int(np.argmin(d_star))
        if d_star[j] < best_d:
            best_d = float(d_star[j])
            best_t = float(t[k[j]] + s_star[j] * (t[k[j] + 1] - t[k[j]]))
            best_dz = float(z_star[j])
        rr = np.maximum(d_star / r_m, z_star / h_m)
        jr = int(np.argmin(rr))
        if rr[jr] < ratio:
            ratio, ratio_h, ratio_v = float(rr[jr]), float(d_star[jr]), float(z_star[jr])
        # loss of separation: horizontal (quadratic) ∩ vertical (linear) intervals
        lo_h, hi_h = _interval_quadratic(qa, qb, x0 * x0 + y0 * y0 - r_m * r_m)
        lo_v, hi_v = _interval_linear(z0, dzv, np.full_like(z0, h_m))
        lo, hi = np.maximum(lo_h, lo_v), np.minimum(hi_h, hi_v)
        span = np.where(hi > lo, hi - lo, 0.0) * (t[k + 1] - t[k])
        los_s = float(span.sum())
        if los_s > 0:
            first = int(np.flatnonzero(span > 0)[0])
            t_los = float(t[k[first]] + lo[first] * (t[k[first] + 1] - t[k[first]]))
    # geometry at the closest approach (velocities of the nearest sample)
    near = int(np.clip(np.searchsorted(t, best_t), 0, len(t) - 1))
    cand = [c for c in (near - 1, near, near + 1) if 0 <= c < len(t) and both[c]]
    c = min(cand, key=lambda c: abs(t[c] - best_t)) if cand else idx[best]
    va = np.array([grid.vx_m_s[c, a], grid.vy_m_s[c, a]])
    vb = np.array([grid.vx_m_s[c, b], grid.vy_m_s[c, b]])
    na, nb = np.hypot(*va), np.hypot(*vb)
    angle = float(np.degrees(np.arccos(np.clip(va @ vb / max(na * nb, 1e-9), -1, 1))))
    closure = float(np.hypot(*(vb - va)))
    # a gap: a sample missing right next to the closest approach while the pair is
    # recorded on both sides (a track lost, then found)
    lo_i = max(0, near - 2)
    hi_i = min(len(t), near + 3)
    window = both[lo_i:hi_i]
    if not window.all() and both[:lo_i].any() and both[hi_i:].any():
        gap_near = True
    return (a, b, best_d, best_t, best_dz, closure, angle, los_s, t_los, ratio, ratio_h,
            ratio_v, gap_near, r_m, h_m)
