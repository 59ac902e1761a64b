"""Tactical conflict detection: predicted losses of separation within the look-ahead.

Straight-line extrapolation of every track in a conformal local plane centred on the
picture (:mod:`skyaccord.tactical.kinematics`), candidate pairs pruned by time slices,
exact closest-point-of-approach intervals on candidates only.

Pruning, and why it loses nothing: the look-ahead ``[0, T]`` is cut into ``K`` slices of
half-width ``tau``. Within a slice no pair's horizontal separation changes by more than
``2 * vmax * tau`` nor its vertical one by more than ``2 * wmax * tau`` (the fastest
ground and vertical speeds of the picture), so a pair that loses separation anywhere in a
slice is, at the slice's mid time, within a box of half-size ``Rmax + 2 vmax tau`` by
``Hmax + 2 wmax tau``. Boxes are found with a k-d tree in the Chebyshev metric on scaled
coordinates (``scipy.spatial.cKDTree.query_pairs``, ``p=inf``). The box distance of a
pair is a convex function of time (a maximum of absolute values of linear functions), so
the slices in which a pair is a candidate are consecutive; a pair is kept only in the
first of them (it was not a candidate in the slice before), and so each candidate is
tested once without sorting ``O(candidates)`` keys. Memory is ``O(N + candidates per
slice)``, never ``O(N^2)``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import NamedTuple, TextIO

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from skyaccord.errors import InputError
from skyaccord.geo import FT, NM, FloatArray, LocalPlane
from skyaccord.protocol import Accord
from skyaccord.tactical.kinematics import (
    PlaneState,
    interval_for_minima,
    pair_geometry,
    plane_state,
)
from skyaccord.tactical.levels import assign_levels, level_names
from skyaccord.tracks import Tracks

__all__ = [
    "CONFLICT_COLUMNS",
    "ConflictRecord",
    "PairConflicts",
    "candidate_pairs",
    "conflict_records",
    "detect",
    "detect_all_pairs",
    "write_conflicts_csv",
]

IntArray = npt.NDArray[np.intp]
_CHUNK = 1 << 20  # pairs per exact-CPA batch: bounds temporary memory (~100 MB)
_MAX_SLICES = 48


@dataclass(frozen=True)
class PairConflicts:
    """Predicted losses of separation, one entry per unordered pair of aircraft (the
    strategic registry's conflicts between intents are another type).

    ``pairs`` is a ``(2, n)`` array of track indices with ``pairs[0] < pairs[1]``, sorted
    by ``(pairs[0], pairs[1])``; the other fields have shape ``(n,)``.
    """

    pairs: IntArray
    t_in_s: FloatArray
    """start of loss of separation, clipped at 0 (0: already in loss)"""
    t_out_s: FloatArray
    """end of loss of separation along straight lines (inf: never ends)"""
    tcpa_s: FloatArray
    """time of horizontal closest approach within [0, look-ahead]"""
    dcpa_m: FloatArray
    """horizontal distance at tcpa, m"""
    dz_m: FloatArray
    """vertical distance at tcpa (absolute), m"""
    level: npt.NDArray[np.int8]
    """alert level code (see :func:`skyaccord.tactical.levels.level_names`)"""
    same_party: npt.NDArray[np.bool_]
    """both aircraft belong to the same party"""

    def __len__(self) -> int:
        return int(self.pairs.shape[1])

    @classmethod
    def empty(cls) -> PairConflicts:
        f = np.zeros(0)
        return cls(np.zeros((2, 0), dtype=np.intp), f, f, f, f, f,
                   np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool))


class _Hits(NamedTuple):
    hit: npt.NDArray[np.bool_]
    t_in: FloatArray
    t_out: FloatArray


def _hits(state: PlaneState, i: IntArray, j: IntArray, radius: FloatArray,
          half_height: FloatArray, lookahead_s: float) -> _Hits:
    """Which candidate pairs lose separation within the look-ahead (exact test)."""
    hit = np.zeros(len(i), dtype=bool)
    t_in = np.empty(len(i))
    t_out = np.empty(len(i))
    for start in range(0, len(i), _CHUNK):
        sl = slice(start, start + _CHUNK)
        g = pair_geometry(state, i[sl], j[sl], radius, half_height)
        iv = interval_for_minima(g, g.radius_m, g.half_height_m)
        hit[sl] = (iv.t_in < lookahead_s) & (iv.t_out > 0.0)
        t_in[sl] = iv.t_in
        t_out[sl] = iv.t_out
    return _Hits(hit, t_in, t_out)


def _conflicts(state: PlaneState, tracks: Tracks, i: IntArray, j: IntArray,
               accord: Accord, lookahead_s: float) -> PairConflicts:
    """Conflicts among candidate pairs ``i < j``, sorted by ``(i, j)`` and unique."""
    if len(i) == 0:
        return PairConflicts.empty()
    # Sort by pair and drop repeats: the result is a set, in a deterministic order.
    # (An explicit sort: numpy's hash-based np.unique is several times slower here.)
    key = np.sort(i.astype(np.int64) * len(tracks) + j)
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    i, j = np.divmod(key[first], len(tracks))
    radius, half_height = accord.minima_table_m()
    found = _hits(state, i, j, radius, half_height, lookahead_s)
    keep = found.hit
    i, j = i[keep].astype(np.intp), j[keep].astype(np.intp)
    g = pair_geometry(state, i, j, radius, half_height)
    a = g.vx * g.vx + g.vy * g.vy
    with np.errstate(all="ignore"):
        tcpa = np.where(a > 1e-12, -(g.px * g.vx + g.py * g.vy) / a, 0.0)
    tcpa = np.clip(tcpa, 0.0, lookahead_s)
    dcpa = np.hypot(g.px + g.vx * tcpa, g.py + g.vy * tcpa) / g.scale
    dz = np.abs(g.pz + g.vz * tcpa)
    t_in = np.maximum(found.t_in[keep], 0.0)
    levels = assign_levels(g, t_in, accord, lookahead_s)
    same = tracks.party[i] == tracks.party[j]
    return PairConflicts(np.vstack([i, j]), t_in, found.t_out[keep], tcpa, dcpa, dz, levels,
                     same)


def _slice_count(r_max: float, h_max: float, v_max: float, w_max: float,
                 lookahead_s: float) -> int:
    """Slices that minimise the summed box volume ``K (R + vT/K)^2 (H + wT/K)``."""
    best_k, best = 1, np.inf
    for k in range(1, _MAX_SLICES + 1):
        tau = lookahead_s / (2 * k)
        cost = k * (r_max + 2 * v_max * tau) ** 2 * (h_max + 2 * w_max * tau)
        if cost < best:
            best_k, best = k, cost
    return best_k


class _Boxes(NamedTuple):
    n_slices: int
    tau: float
    box_h: float
    box_v: float


def _boxes(state: PlaneState, accord: Accord, lookahead_s: float,
           n_slices: int | None) -> _Boxes:
    radius, half_height = accord.minima_table_m()
    # Plane-metre bounds: minima at the largest scale factor, fastest plane speeds; the
    # small relative slack absorbs rounding in positions computed at slice times.
    r_max = float(radius.max()) * float(state.scale.max()) * (1 + 1e-7) + 1e-6
    h_max = float(half_height.max()) * (1 + 1e-7) + 1e-6
    v_max = float(np.sqrt(state.vx ** 2 + state.vy ** 2).max())
    w_max = float(np.abs(state.vz).max())
    k = n_slices or _slice_count(r_max, h_max, v_max, w_max, lookahead_s)
    tau = lookahead_s / (2 * k)
    return _Boxes(k, tau, r_max + 2 * v_max * tau, h_max + 2 * w_max * tau)


def candidate_pairs(state: PlaneState, accord: Accord, lookahead_s: float,
                    n_slices: int | None = None) -> list[IntArray]:
    """Candidate pairs by k-d tree, one ``(m, 2)`` index array per slice, each pair once.

    Every pair that loses separation within ``[0, lookahead_s]`` is among them.
    """
    n = len(state.x)
    if n < 2:
        return []
    k, tau, box_h, box_v = _boxes(state, accord, lookahead_s, n_slices)
    z_scale = box_h / box_v
    out: list[IntArray] = []
    previous: FloatArray | None = None
    for s in range(k):
        t_mid = (2 * s + 1) * tau
        points = np.empty((n, 3))
        points[:, 0] = state.x + state.vx * t_mid
        points[:, 1] = state.y + state.vy * t_mid
        points[:, 2] = (state.z + state.vz * t_mid) * z_scale
        pairs = cKDTree(points).query_pairs(box_h, p=np.inf, output_type="ndarray")
        if previous is not None and len(pairs):
            # Keep pairs that were not candidates in the slice before (same predicate
            # as the tree's: Chebyshev distance <= box_h).
            was = np.ones(len(pairs), dtype=bool)
            for axis in range(3):
                was &= np.abs(previous[pairs[:, 0], axis]
                              - previous[pairs[:, 1], axis]) <= box_h
            pairs = pairs[~was]
        out.append(pairs.astype(np.intp, copy=False))
        previous = points
    return out


def detect(tracks: Tracks, accord: Accord, *, lookahead_s: float | None = None,
           plane: LocalPlane | None = None, engine: str = "grid") -> PairConflicts:
    """Every pair predicted to lose separation within the look-ahead.

    Parameters
    ----------
    tracks
        The picture, N tracks.
    accord
        Minima per class pair, alert levels and the default look-ahead.
    lookahead_s
        Overrides ``accord.lookahead_s``.
    plane
        The local plane; by default one centred on the picture.
    engine
        ``"grid"`` (compiled grid search, numba; the default) or ``"kdtree"`` (scipy's
        k-d tree and numpy). Both return the same conflicts as :func:`detect_all_pairs`.

    Returns
    -------
    PairConflicts
        One entry per unordered conflicting pair, sorted by track indices.

    Examples
    --------
    Two aircraft head-on 20 NM apart at 480 kt each, same level: separation (5 NM) is
    lost when they have closed 15 NM at 960 kt, after 56.25 s.

    >>> from skyaccord.protocol import default_accord
    >>> t = Tracks.from_rows([
    ...     ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
    ...     ("b", "ru", "manned", 35.0, 36.0 + 20 * 1852 / 91_287.8, 30000, 480, 270, 0),
    ... ])
    >>> c = detect(t, default_accord())
    >>> round(float(c.t_in_s[0])), round(float(c.tcpa_s[0]))
    (56, 75)
    """
    lookahead = accord.lookahead_or(lookahead_s)
    if len(tracks) < 2:
        return PairConflicts.empty()
    state = plane_state(tracks, accord, plane)
    if engine == "grid":
        from skyaccord.tactical._grid import grid_candidates

        radius, half_height = accord.minima_table_m()
        boxes = _boxes(state, accord, lookahead, None)
        slices = [grid_candidates(state, radius, half_height, lookahead, boxes.n_slices,
                                  boxes.box_h, boxes.box_v)]
    elif engine == "kdtree":
        slices = candidate_pairs(state, accord, lookahead)
    else:
        raise InputError(f"engine must be 'grid' or 'kdtree', not {engine!r}")
    pairs = np.concatenate(slices) if slices else np.zeros((0, 2), dtype=np.intp)
    lo = np.minimum(pairs[:, 0], pairs[:, 1])
    hi = np.maximum(pairs[:, 0], pairs[:, 1])
    return _conflicts(state, tracks, lo, hi, accord, lookahead)


def detect_all_pairs(tracks: Tracks, accord: Accord, *, lookahead_s: float | None = None,
                     plane: LocalPlane | None = None, block: int = 512) -> PairConflicts:
    """Reference detector: the exact test on all N(N-1)/2 pairs, in row blocks.

    O(N^2) time and O(block * N) memory; for tests and for checking :func:`detect`.
    """
    lookahead = accord.lookahead_or(lookahead_s)
    n = len(tracks)
    if n < 2:
        return PairConflicts.empty()
    state = plane_state(tracks, accord, plane)
    radius, half_height = accord.minima_table_m()
    found_i, found_j = [], []
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        i, j = np.meshgrid(rows, np.arange(n), indexing="ij")
        upper = j > i
        i, j = i[upper], j[upper]
        hit = _hits(state, i, j, radius, half_height, lookahead).hit
        found_i.append(i[hit])
        found_j.append(j[hit])
    return _conflicts(state, tracks, np.concatenate(found_i), np.concatenate(found_j),
                      accord, lookahead)


class ConflictRecord(NamedTuple):
    """One conflict in aviation units, ids ordered as strings (``id1 < id2``)."""

    id1: str
    id2: str
    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_nm: float
    dz_ft: float
    level: str
    same_party: bool


def conflict_records(tracks: Tracks, conflicts: PairConflicts,
                     accord: Accord) -> list[ConflictRecord]:
    """Conflicts as records sorted by ``(t_in_s, id1, id2)``: the CLI's CSV rows."""
    names = level_names(accord)
    out = []
    for k in range(len(conflicts)):
        a, b = (str(tracks.id[conflicts.pairs[0, k]]), str(tracks.id[conflicts.pairs[1, k]]))
        id1, id2 = (a, b) if a < b else (b, a)
        out.append(ConflictRecord(
            id1, id2, float(conflicts.t_in_s[k]), float(conflicts.t_out_s[k]),
            float(conflicts.tcpa_s[k]), float(conflicts.dcpa_m[k]) / NM,
            float(conflicts.dz_m[k]) / FT, names[int(conflicts.level[k])],
            bool(conflicts.same_party[k]),
        ))
    out.sort(key=lambda r: (r.t_in_s, r.id1, r.id2))
    return out


#: header of ``skyaccord detect``'s output (a stable interface)
CONFLICT_COLUMNS = ("id1", "id2", "t_in_s", "t_out_s", "tcpa_s", "dcpa_nm", "dz_ft", "level")


def write_conflicts_csv(records: list[ConflictRecord], out: TextIO) -> None:
    """Write conflict records to the text stream ``out`` as the ``detect`` CSV
    (:data:`CONFLICT_COLUMNS`; ``t_out_s`` ``inf`` when the loss never ends)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CONFLICT_COLUMNS)
    for r in records:
        w.writerow([r.id1, r.id2, f"{r.t_in_s:.3f}",
                    "inf" if r.t_out_s == float("inf") else f"{r.t_out_s:.3f}",
                    f"{r.tcpa_s:.3f}", f"{r.dcpa_nm:.4f}", f"{r.dz_ft:.2f}", r.level])
