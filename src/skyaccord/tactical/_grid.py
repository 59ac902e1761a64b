"""Compiled conflict search for :func:`skyaccord.tactical.detect` (numba).

The same pruning as the k-d tree path (time slices, Chebyshev boxes at slice mid times,
a pair kept only in the first slice whose box holds it), done on a dense 3-D grid of
cells at least one box wide: a pair whose boxes overlap lies in the same or an adjacent
cell, so each point looks at the cells "ahead" of its own (a column of three cells in z
is one run of the points sorted by cell) and at the later points of its own cell.

Candidates that pass the box test get the exact test here, with the same floating-point
operations in the same order as :func:`skyaccord.tactical.kinematics.loss_interval`,
:func:`~skyaccord.tactical.kinematics.interval_for_minima` and
:func:`skyaccord.tactical.levels.assign_levels` (IEEE 754 arithmetic, no fast-math, no
fused multiply-add: numba leaves LLVM's default of no contraction), so the results are
identical, bit for bit, to the numpy reference (:func:`~skyaccord.tactical.detect
.detect_all_pairs`, compared field by field in the tests). Only the horizontal distance
at closest approach (``np.hypot``) is left to numpy, which takes its components.

Slices are independent given the positions, so they run on a thread pool with the GIL
released (``nogil``).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from skyaccord.tactical.kinematics import PlaneState

__all__ = ["GridHits", "grid_hits"]

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
_MAX_CELLS = 1 << 22  # dense cell table: at most 4 M cells (32 MB of int64 starts)
_STILL_H2 = 1e-12  # as kinematics._STILL_H2 and detect's tcpa threshold
_STILL_V = 1e-9  # as kinematics._STILL_V


@numba.njit(cache=True, nogil=True)
def _np_max(a: float, b: float) -> float:
    """``np.maximum``'s choice: ``b`` on a tie (0.0 or -0.0 matters to the CSV)."""
    return a if (a > b or a != a) else b


@numba.njit(cache=True, nogil=True)
def _np_min(a: float, b: float) -> float:
    """``np.minimum``'s choice: ``b`` on a tie."""
    return a if (a < b or a != a) else b


@numba.njit(cache=True, nogil=True)
def _interval(px: float, py: float, pz: float, vx: float, vy: float, vz: float,
              radius: float, half_height: float) -> tuple[float, float]:
    """``kinematics.loss_interval`` for one pair, operation for operation."""
    a = vx * vx + vy * vy
    b = px * vx + py * vy
    c = px * px + py * py - radius * radius
    disc = b * b - a * c
    if a > _STILL_H2:
        if disc > 0.0:
            q = -(b + math.copysign(math.sqrt(disc), b))
            r1 = q / a
            r2 = c / q
            h_in = _np_min(r1, r2)
            h_out = _np_max(r1, r2)
        else:
            h_in = np.inf
            h_out = -np.inf
    elif c < 0.0:
        h_in = -np.inf
        h_out = np.inf
    else:
        h_in = np.inf
        h_out = -np.inf
    if abs(vz) > _STILL_V:
        t1 = (-half_height - pz) / vz
        t2 = (half_height - pz) / vz
        v_in = _np_min(t1, t2)
        v_out = _np_max(t1, t2)
    elif abs(pz) < half_height:
        v_in = -np.inf
        v_out = np.inf
    else:
        v_in = np.inf
        v_out = -np.inf
    t_in = _np_max(h_in, v_in)
    t_out = _np_min(h_out, v_out)
    if not t_in < t_out:
        return np.inf, -np.inf
    return t_in, t_out


@numba.njit(cache=True, nogil=True)
def _slice_hits(x: np.ndarray, y: np.ndarray, z: np.ndarray, vx: np.ndarray,
                vy: np.ndarray, vz: np.ndarray, scale: np.ndarray, cls: np.ndarray,
                radius: np.ndarray, half: np.ndarray, tol_r: float, tol_h: float,
                t_mid: float, t_prev: float, has_prev: bool, box_h: float, box_v: float,
                cell_h: float, cell_v: float, lookahead: float) -> np.ndarray:
    """The conflicting pairs first boxed in this slice, ``(m, 2)`` track indices, the
    lower first."""
    n = x.shape[0]
    px = x + vx * t_mid
    py = y + vy * t_mid
    pz = z + vz * t_mid
    # positions at the slice before's mid time, as that slice computed them
    qx = x + vx * t_prev
    qy = y + vy * t_prev
    qz = z + vz * t_prev
    x0 = px.min()
    y0 = py.min()
    z0 = pz.min()
    nx = int((px.max() - x0) / cell_h) + 1
    ny = int((py.max() - y0) / cell_h) + 1
    nz = int((pz.max() - z0) / cell_v) + 1
    key = np.empty(n, np.int64)
    for i in range(n):
        gx = min(int((px[i] - x0) / cell_h), nx - 1)
        gy = min(int((py[i] - y0) / cell_h), ny - 1)
        gz = min(int((pz[i] - z0) / cell_v), nz - 1)
        key[i] = (gx * ny + gy) * nz + gz
    ncell = nx * ny * nz
    start = np.zeros(ncell + 1, np.int64)
    for i in range(n):
        start[key[i] + 1] += 1
    for c in range(ncell):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[key[i]]] = i
        fill[key[i]] += 1
    # Everything in cell order: a cell's points, and its neighbours', lie together in
    # memory (the scan below reads them in runs instead of all over the arrays).
    px = px[order]
    py = py[order]
    pz = pz[order]
    qx = qx[order]
    qy = qy[order]
    qz = qz[order]
    key = key[order]
    x = x[order]
    y = y[order]
    z = z[order]
    vx = vx[order]
    vy = vy[order]
    vz = vz[order]
    scale = scale[order]
    cls = cls[order]

    cap = 1024
    out = np.empty((cap, 2), np.int64)
    count = 0
    for i in range(n):  # i, j: positions in cell order
        k = key[i]
        gz = k % nz
        gxy = k // nz
        gy = gxy % ny
        gx = gxy // ny
        z_lo = max(gz - 1, 0)
        z_hi = min(gz + 1, nz - 1)
        for col in range(5):
            # The columns (ox, oy) ahead: (0, 0) from the own cell up, then (0, 1),
            # (1, -1), (1, 0), (1, 1) over three cells in z.
            if col == 0:
                ox, oy = 0, 0
            elif col == 1:
                ox, oy = 0, 1
            else:
                ox, oy = 1, col - 3
            cx = gx + ox
            cy = gy + oy
            if cx >= nx or cy < 0 or cy >= ny:
                continue
            base = (cx * ny + cy) * nz
            # own column: the own cell's later points, then the cell above
            lo = i + 1 if col == 0 else start[base + z_lo]
            hi = start[base + z_hi + 1]
            for j in range(lo, hi):
                if abs(px[j] - px[i]) > box_h or abs(py[j] - py[i]) > box_h \
                        or abs(pz[j] - pz[i]) > box_v:
                    continue
                if has_prev and abs(qx[j] - qx[i]) <= box_h and abs(qy[j] - qy[i]) <= box_h \
                        and abs(qz[j] - qz[i]) <= box_v:
                    continue  # a candidate of the slice before
                # The pair as the reference orders it: a is the lower track index.
                if order[i] < order[j]:
                    a = i
                    b = j
                else:
                    a = j
                    b = i
                rx = x[b] - x[a]
                ry = y[b] - y[a]
                rz = z[b] - z[a]
                wx = vx[b] - vx[a]
                wy = vy[b] - vy[a]
                wz = vz[b] - vz[a]
                s = 0.5 * (scale[a] + scale[b])
                r_m = radius[cls[a], cls[b]]
                h_m = half[cls[a], cls[b]]
                t_in, t_out = _interval(rx, ry, rz, wx, wy, wz, (r_m - tol_r) * s,
                                        h_m - tol_h)
                if not (t_in < lookahead and t_out > 0.0):
                    continue
                if count == cap:
                    cap *= 2
                    grown = np.empty((cap, 2), np.int64)
                    grown[:count] = out
                    out = grown
                out[count, 0] = order[a]
                out[count, 1] = order[b]
                count += 1
    return out[:count]


@numba.njit(cache=True, nogil=True)
def _sorted_pairs(ij: np.ndarray, n: int) -> np.ndarray:
    """The pairs ``ij`` ``(m, 2)`` as ``(2, m)`` sorted by ``(first, second)``: a
    counting sort on the first index, then an insertion sort of each (short) run."""
    m = ij.shape[0]
    start = np.zeros(n + 1, np.int64)
    for k in range(m):
        start[ij[k, 0] + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    pairs = np.empty((2, m), np.int64)
    for k in range(m):
        p = fill[ij[k, 0]]
        pairs[1, p] = ij[k, 1]
        fill[ij[k, 0]] += 1
    second = pairs[1]
    for v in range(n):
        lo = start[v]
        for p in range(lo, start[v + 1]):
            pairs[0, p] = v
        for p in range(lo + 1, start[v + 1]):
            key = second[p]
            q = p - 1
            while q >= lo and second[q] > key:
                second[q + 1] = second[q]
                q -= 1
            second[q + 1] = key
    return pairs


@numba.njit(cache=True, nogil=True)
def _pair_values(pairs: np.ndarray, tracks: np.ndarray, radius: np.ndarray,
                 half: np.ndarray, tol_r: float, tol_h: float, lev_horizon: np.ndarray,
                 lev_minima: np.ndarray, lev_r: np.ndarray, lev_h: np.ndarray,
                 lookahead: float, cols: np.ndarray, level: np.ndarray, first: int,
                 stop: int) -> None:
    """For the conflicting pairs ``first:stop``, into ``cols`` ``(7, m)``: t_in clipped
    at 0, t_out, tcpa, the horizontal components of the separation at tcpa, |dz| at
    tcpa and the pair's mean scale factor; into ``level``: the level code. The
    reference's operations (``detect._conflicts``, ``levels.assign_levels``).

    ``tracks`` is ``(n, 8)``: x, y, z, vx, vy, vz, scale, class code, a track's values in
    one cache line (the second track of a pair is anywhere)."""
    nlev = lev_horizon.shape[0]
    for k in range(first, stop):
        a = pairs[0, k]  # (indices, not row views: a view costs reference counting)
        b = pairs[1, k]
        rx = tracks[b, 0] - tracks[a, 0]
        ry = tracks[b, 1] - tracks[a, 1]
        rz = tracks[b, 2] - tracks[a, 2]
        wx = tracks[b, 3] - tracks[a, 3]
        wy = tracks[b, 4] - tracks[a, 4]
        wz = tracks[b, 5] - tracks[a, 5]
        s = 0.5 * (tracks[a, 6] + tracks[b, 6])
        ca = int(tracks[a, 7])
        cb = int(tracks[b, 7])
        r_m = radius[ca, cb]
        h_m = half[ca, cb]
        t_in, t_out = _interval(rx, ry, rz, wx, wy, wz, (r_m - tol_r) * s, h_m - tol_h)
        t_in = _np_max(t_in, 0.0)
        aa = wx * wx + wy * wy
        tcpa = -(rx * wx + ry * wy) / aa if aa > _STILL_H2 else 0.0
        # np.clip's choice: the value itself on a tie with a bound
        tcpa = 0.0 if tcpa < 0.0 else lookahead if tcpa > lookahead else tcpa
        code = 0
        for lv in range(nlev - 1, -1, -1):  # the most severe level first
            horizon = lev_horizon[lv]
            if not t_in < horizon:
                continue
            if lev_minima[lv]:
                l_in, l_out = _interval(rx, ry, rz, wx, wy, wz,
                                        (_np_min(r_m, lev_r[lv]) - tol_r) * s,
                                        _np_min(h_m, lev_h[lv]) - tol_h)
                if not (l_in < horizon and l_out > 0.0):
                    continue
            code = lv + 1
            break
        cols[0, k] = t_in
        cols[1, k] = t_out
        cols[2, k] = tcpa
        cols[3, k] = rx + wx * tcpa
        cols[4, k] = ry + wy * tcpa
        cols[5, k] = abs(rz + wz * tcpa)
        cols[6, k] = s
        level[k] = code


class GridHits(NamedTuple):
    """The conflicts found by :func:`grid_hits`, sorted by pair (one entry per pair)."""

    pairs: npt.NDArray[np.int64]
    """``(2, m)`` track indices, ``pairs[0] < pairs[1]``"""
    t_in_s: FloatArray
    """clipped at 0"""
    t_out_s: FloatArray
    tcpa_s: FloatArray
    hx: FloatArray
    """horizontal components of the separation at tcpa, plane metres"""
    hy: FloatArray
    dz_m: FloatArray
    scale: FloatArray
    """mean scale factor of the pair"""
    level: npt.NDArray[np.int8]


def grid_hits(state: PlaneState, radius_m: FloatArray, half_height_m: FloatArray,
              tol_r: float, tol_h: float, levels: tuple[FloatArray, npt.NDArray[np.bool_],
                                                         FloatArray, FloatArray],
              lookahead_s: float, n_slices: int, box_h: float, box_v: float,
              workers: int | None = None) -> GridHits:
    """Every pair that loses separation within the look-ahead, with what the reference
    derives from its geometry, each pair once.

    ``tol_r`` and ``tol_h`` are the tolerances taken off the minima (metres); ``levels``
    holds, per accord level, its horizon ``min(time_s, look-ahead)``, whether it has
    minima of its own, and those (metres).
    """
    n = len(state.x)
    tau = lookahead_s / (2 * n_slices)
    # Cells at least one box wide, and no more than _MAX_CELLS of them.
    span_x = float(np.ptp(state.x)) + 2 * lookahead_s * float(np.abs(state.vx).max()) + 1.0
    span_y = float(np.ptp(state.y)) + 2 * lookahead_s * float(np.abs(state.vy).max()) + 1.0
    span_z = float(np.ptp(state.z)) + 2 * lookahead_s * float(np.abs(state.vz).max()) + 1.0
    cell_h, cell_v = box_h, box_v
    while (span_x / cell_h + 2) * (span_y / cell_h + 2) * (span_z / cell_v + 2) > _MAX_CELLS:
        cell_h *= 1.5
        cell_v *= 1.5
    cls = state.class_code.astype(np.int64)
    arrays = (state.x, state.y, state.z, state.vx, state.vy, state.vz, state.scale, cls,
              np.ascontiguousarray(radius_m), np.ascontiguousarray(half_height_m),
              float(tol_r), float(tol_h))

    def run(s: int) -> np.ndarray:
        t_mid = (2 * s + 1) * tau
        t_prev = (2 * s - 1) * tau
        result: np.ndarray = _slice_hits(*arrays, t_mid, t_prev, s > 0, box_h, box_v,
                                         cell_h, cell_v, lookahead_s)
        return result

    workers = workers or min(n_slices, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 and n > 2000 else None
    try:
        parts = list(pool.map(run, range(n_slices)) if pool else map(run, range(n_slices)))
        ij = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        del parts
        pairs = _sorted_pairs(ij, n)
        del ij
        # The values of the pairs, gathered from the (cache-sized) track arrays in the
        # pairs' order: cheaper than carrying them through the sort.
        m = pairs.shape[1]
        cols = np.empty((7, m))
        level = np.empty(m, np.int8)
        lev_horizon, lev_minima, lev_r, lev_h = (np.ascontiguousarray(v) for v in levels)
        packed = np.empty((n, 8))  # a track's values in one cache line
        for c, column in enumerate(arrays[:8]):
            packed[:, c] = column
        radius = np.ascontiguousarray(radius_m, np.float64)
        half = np.ascontiguousarray(half_height_m, np.float64)

        def fill(bounds: tuple[int, int]) -> None:
            _pair_values(pairs, packed, radius, half, float(tol_r), float(tol_h), lev_horizon,
                         lev_minima, lev_r, lev_h, float(lookahead_s), cols, level,
                         bounds[0], bounds[1])

        chunks = [(k * m // workers, (k + 1) * m // workers) for k in range(workers)]
        list(pool.map(fill, chunks) if pool and m > 100_000 else map(fill, chunks))
    finally:
        if pool:
            pool.shutdown()
    return GridHits(pairs, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6],
                    level)
