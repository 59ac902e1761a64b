"""Compiled candidate search for :func:`skyaccord.tactical.detect` (numba).

The same pruning as the k-d tree path (time slices, Chebyshev boxes at slice mid times,
a pair kept only in the first slice whose box holds it), done on a dense 3-D grid of
cells at least one box wide: a pair whose boxes overlap lies in the same or an adjacent
cell, so each point looks at the 13 cells "ahead" of its own and at the later points of
its own cell. Candidates that pass the box test then get a slightly widened exact test
(radius 1e-7 relatively wider, look-ahead 1e-6 s longer), so the kernel returns a small
superset of the conflicting pairs; the caller decides membership with the numpy kernel,
which makes the result identical, bit for bit, to the all-pairs reference.

Slices are independent given the positions, so they run on a thread pool with the GIL
released (``nogil``).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import numpy.typing as npt

from skyaccord.tactical.kinematics import PlaneState

__all__ = ["grid_candidates"]

IntArray = npt.NDArray[np.intp]
_MAX_CELLS = 1 << 22  # dense cell table: at most 4 M cells (32 MB of int64 starts)


@numba.njit(cache=True, nogil=True)
def _slice_conflicts(x: np.ndarray, y: np.ndarray, z: np.ndarray, vx: np.ndarray,
                     vy: np.ndarray, vz: np.ndarray, scale: np.ndarray, cls: np.ndarray,
                     radius: np.ndarray, half: np.ndarray, t_mid: float, t_prev: float,
                     has_prev: bool, box_h: float, box_v: float, cell_h: float,
                     cell_v: float, lookahead: float) -> np.ndarray:
    n = x.shape[0]
    px = x + vx * t_mid
    py = y + vy * t_mid
    pz = z + vz * t_mid
    x0 = px.min()
    y0 = py.min()
    z0 = pz.min()
    nx = int((px.max() - x0) / cell_h) + 1
    ny = int((py.max() - y0) / cell_h) + 1
    nz = int((pz.max() - z0) / cell_v) + 1
    cx = np.empty(n, np.int64)
    cy = np.empty(n, np.int64)
    cz = np.empty(n, np.int64)
    key = np.empty(n, np.int64)
    for i in range(n):
        cx[i] = min(int((px[i] - x0) / cell_h), nx - 1)
        cy[i] = min(int((py[i] - y0) / cell_h), ny - 1)
        cz[i] = min(int((pz[i] - z0) / cell_v), nz - 1)
        key[i] = (cx[i] * ny + cy[i]) * nz + cz[i]
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
    cx = cx[order]
    cy = cy[order]
    cz = cz[order]
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
    slack = 1.0 + 1e-7
    for i in range(n):  # i, j: positions in cell order
        for ox in range(0, 2):
            gx = cx[i] + ox
            if gx >= nx:
                continue
            for oy in range(-1, 2):
                if ox == 0 and oy < 0:
                    continue
                gy = cy[i] + oy
                if gy < 0 or gy >= ny:
                    continue
                for oz in range(-1, 2):
                    if ox == 0 and oy == 0 and oz < 0:
                        continue
                    gz = cz[i] + oz
                    if gz < 0 or gz >= nz:
                        continue
                    c = (gx * ny + gy) * nz + gz
                    lo = start[c]
                    hi = start[c + 1]
                    if ox == 0 and oy == 0 and oz == 0:
                        lo = i + 1  # own cell: later points only
                    for j in range(lo, hi):
                        if abs(px[j] - px[i]) > box_h or abs(py[j] - py[i]) > box_h \
                                or abs(pz[j] - pz[i]) > box_v:
                            continue
                        if has_prev:
                            qx = (x[j] + vx[j] * t_prev) - (x[i] + vx[i] * t_prev)
                            qy = (y[j] + vy[j] * t_prev) - (y[i] + vy[i] * t_prev)
                            qz = (z[j] + vz[j] * t_prev) - (z[i] + vz[i] * t_prev)
                            if abs(qx) <= box_h and abs(qy) <= box_h and abs(qz) <= box_v:
                                continue  # a candidate of the slice before
                        # Widened exact test (superset; numpy decides).
                        rx = x[j] - x[i]
                        ry = y[j] - y[i]
                        rz = z[j] - z[i]
                        wx = vx[j] - vx[i]
                        wy = vy[j] - vy[i]
                        wz = vz[j] - vz[i]
                        r = radius[cls[i], cls[j]] * 0.5 * (scale[i] + scale[j]) * slack
                        h = half[cls[i], cls[j]] * slack
                        aa = wx * wx + wy * wy
                        bb = rx * wx + ry * wy
                        cc = rx * rx + ry * ry - r * r
                        if aa > 1e-12:
                            disc = bb * bb - aa * cc
                            if disc <= 0.0:
                                continue
                            # Stable roots, as in kinematics.loss_interval.
                            q = -(bb + math.copysign(math.sqrt(disc), bb))
                            h_in = min(q / aa, cc / q)
                            h_out = max(q / aa, cc / q)
                        elif cc < 0.0:
                            h_in = -np.inf
                            h_out = np.inf
                        else:
                            continue
                        if abs(wz) > 1e-9:
                            t1 = (-h - rz) / wz
                            t2 = (h - rz) / wz
                            v_in = min(t1, t2)
                            v_out = max(t1, t2)
                        elif abs(rz) < h:
                            v_in = -np.inf
                            v_out = np.inf
                        else:
                            continue
                        t_in = max(h_in, v_in)
                        t_out = min(h_out, v_out)
                        if t_in < t_out and t_in < lookahead + 1e-6 and t_out > -1e-6:
                            if count == cap:
                                grown = np.empty((cap * 2, 2), np.int64)
                                grown[:cap] = out
                                out = grown
                                cap *= 2
                            oi = order[i]
                            oj = order[j]
                            out[count, 0] = min(oi, oj)
                            out[count, 1] = max(oi, oj)
                            count += 1
    return out[:count]


def grid_candidates(state: PlaneState, radius_m: npt.NDArray[np.float64],
                    half_height_m: npt.NDArray[np.float64], lookahead_s: float,
                    n_slices: int, box_h: float, box_v: float,
                    workers: int | None = None) -> IntArray:
    """Pairs ``(m, 2)`` that may lose separation within the look-ahead, each once."""
    n = len(state.x)
    if n < 2:
        return np.zeros((0, 2), dtype=np.intp)
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
    args = (state.x, state.y, state.z, state.vx, state.vy, state.vz, state.scale, cls,
            np.ascontiguousarray(radius_m), np.ascontiguousarray(half_height_m))

    def run(s: int) -> np.ndarray:
        t_mid = (2 * s + 1) * tau
        t_prev = (2 * s - 1) * tau
        result: np.ndarray = _slice_conflicts(*args, t_mid, t_prev, s > 0, box_h, box_v,
                                              cell_h, cell_v, lookahead_s)
        return result

    workers = workers or min(n_slices, os.cpu_count() or 1)
    if workers > 1 and n > 2000:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, range(n_slices)))
    else:
        parts = [run(s) for s in range(n_slices)]
    return np.concatenate(parts).astype(np.intp, copy=False)
