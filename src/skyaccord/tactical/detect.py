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
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO, cast

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError
from skyaccord.geo import FT, NM, FloatArray, LocalPlane
from skyaccord.protocol import Accord
from skyaccord.tactical.kinematics import (
    TOLERANCE_FT,
    TOLERANCE_NM,
    PairGeometry,
    PlaneState,
    interval_for_minima,
    pair_geometry,
    plane_state,
)
from skyaccord.tactical.levels import assign_levels, level_names
from skyaccord.tracks import Tracks

__all__ = [
    "COMPILED_FROM",
    "CONFLICT_COLUMNS",
    "ConflictRecord",
    "ConflictTable",
    "PairConflicts",
    "candidate_pairs",
    "cell_candidates",
    "conflict_records",
    "conflict_table",
    "detect",
    "detect_all_pairs",
    "write_conflicts_csv",
    "write_conflicts_parquet",
]

IntArray = npt.NDArray[np.intp]
_CHUNK = 1 << 20  # pairs per exact-CPA batch: bounds temporary memory (~100 MB)
_MAX_SLICES = 48
#: ``detect(engine="auto")`` uses the compiled grid (numba) from this many tracks: below,
#: loading numba and its cached kernel (about a second) costs more than it saves.
COMPILED_FROM = 30_000
_MAX_DENSE_CELLS = 1 << 22  # cell_candidates' table of cell runs: at most 32 MB


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
    # The exact test, chunk by chunk; the geometry of the pairs that pass is kept (taken
    # from the chunk's, not gathered again).
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray, PairGeometry]] = []
    for start in range(0, len(i), _CHUNK):
        ci, cj = i[start:start + _CHUNK], j[start:start + _CHUNK]
        cg = pair_geometry(state, ci, cj, radius, half_height)
        iv = interval_for_minima(cg, cg.radius_m, cg.half_height_m)
        hit = (iv.t_in < lookahead_s) & (iv.t_out > 0.0)
        parts.append((ci[hit], cj[hit], iv.t_in[hit], iv.t_out[hit],
                      PairGeometry(*(f[hit] for f in cg))))
    i = np.concatenate([part[0] for part in parts]).astype(np.intp)
    j = np.concatenate([part[1] for part in parts]).astype(np.intp)
    found_in = np.concatenate([part[2] for part in parts])
    found_out = np.concatenate([part[3] for part in parts])
    g = PairGeometry(*(np.concatenate([part[4][f] for part in parts])
                       for f in range(len(parts[0][4]))))
    del parts
    a = g.vx * g.vx + g.vy * g.vy
    with np.errstate(all="ignore"):
        tcpa = np.where(a > 1e-12, -(g.px * g.vx + g.py * g.vy) / a, 0.0)
    tcpa = np.clip(tcpa, 0.0, lookahead_s)
    dcpa = np.hypot(g.px + g.vx * tcpa, g.py + g.vy * tcpa) / g.scale
    dz = np.abs(g.pz + g.vz * tcpa)
    t_in = np.maximum(found_in, 0.0)
    levels = assign_levels(g, t_in, accord, lookahead_s)
    # Parties as small integer codes: one comparison of ints per pair, not of strings.
    _, party = np.unique(tracks.party, return_inverse=True)
    same = party[i] == party[j]
    return PairConflicts(np.vstack([i, j]), t_in, found_out, tcpa, dcpa, dz, levels, same)


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
    from scipy.spatial import cKDTree  # only this path needs scipy: load it here

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


# The 13 neighbour cells "ahead" of a cell, and the cell itself: each unordered pair of
# adjacent cells is visited once.
_AHEAD = [(0, 0, 0), (0, 0, 1)] + [(0, 1, dz) for dz in (-1, 0, 1)] + [
    (1, dy, dz) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]


def cell_candidates(state: PlaneState, accord: Accord, lookahead_s: float,
                    n_slices: int | None = None) -> list[IntArray]:
    """Candidate pairs by a cell grid in numpy (no compiled code, no scipy): the same
    slices, boxes and first-slice rule as :func:`candidate_pairs`, one ``(m, 2)`` index
    array per slice, each pair once.

    Cells are at least one box wide, so the points within a box of each other lie in the
    same or adjacent cells; a point's pairs with the points of a neighbour cell are
    expanded from the cell's run in the points sorted by cell (``searchsorted``).
    """
    n = len(state.x)
    if n < 2:
        return []
    k, tau, box_h, box_v = _boxes(state, accord, lookahead_s, n_slices)
    cell_h, cell_v = box_h * (1 + 1e-9), box_v * (1 + 1e-9)  # no rounding loses a pair
    out: list[IntArray] = []
    previous: tuple[FloatArray, FloatArray, FloatArray] | None = None
    everyone = np.arange(n)
    for s in range(k):
        t_mid = (2 * s + 1) * tau
        px = state.x + state.vx * t_mid
        py = state.y + state.vy * t_mid
        pz = state.z + state.vz * t_mid
        cx = ((px - px.min()) / cell_h).astype(np.int64)
        cy = ((py - py.min()) / cell_h).astype(np.int64)
        cz = ((pz - pz.min()) / cell_v).astype(np.int64)
        ny, nz = int(cy.max()) + 3, int(cz.max()) + 3  # room for the -1..+1 offsets
        key = (cx * ny + cy + 1) * nz + cz + 1
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = everyone
        n_cells = (int(cx.max()) + 2) * ny * nz
        # Each cell's run in the sorted points: a dense table of run starts where it is
        # small, binary search in the sorted keys otherwise.
        start = (np.concatenate([[0], np.cumsum(np.bincount(key, minlength=n_cells))])
                 if n_cells <= _MAX_DENSE_CELLS else None)
        found = []
        for ox, oy, oz in _AHEAD:
            target = key + (ox * ny + oy) * nz + oz
            if start is not None:
                lo, hi = start[target], start[target + 1]
            else:
                lo = np.searchsorted(sorted_key, target, side="left")
                hi = np.searchsorted(sorted_key, target, side="right")
            if ox == oy == oz == 0:
                lo = rank + 1  # own cell: the later points only
            counts = np.maximum(hi - lo, 0)
            total = int(counts.sum())
            if total == 0:
                continue
            i = np.repeat(everyone, counts)
            within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            j = order[np.repeat(lo, counts) + within]
            near = ((np.abs(px[j] - px[i]) <= box_h) & (np.abs(py[j] - py[i]) <= box_h)
                    & (np.abs(pz[j] - pz[i]) <= box_v))
            i, j = i[near], j[near]
            if previous is not None and len(i):
                qx, qy, qz = previous  # a candidate of the slice before: not again
                was = ((np.abs(qx[j] - qx[i]) <= box_h) & (np.abs(qy[j] - qy[i]) <= box_h)
                       & (np.abs(qz[j] - qz[i]) <= box_v))
                i, j = i[~was], j[~was]
            found.append(np.stack([i, j], axis=1))
        out.append(np.concatenate(found).astype(np.intp, copy=False) if found
                   else np.zeros((0, 2), dtype=np.intp))
        previous = (px, py, pz)
    return out


def detect(tracks: Tracks, accord: Accord, *, lookahead_s: float | None = None,
           plane: LocalPlane | None = None, engine: str = "auto") -> PairConflicts:
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
        ``"grid"`` (compiled grid search, numba), ``"cells"`` (the same grid in numpy),
        ``"kdtree"`` (scipy's k-d tree and numpy), or ``"auto"`` (the default: ``grid``
        from :data:`COMPILED_FROM` tracks, ``cells`` below, where loading numba would
        cost more than it saves). All return the same conflicts as
        :func:`detect_all_pairs`.

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
    if engine == "auto":
        engine = "grid" if len(tracks) >= COMPILED_FROM else "cells"
    if engine == "grid":
        return _grid_conflicts(state, tracks, accord, lookahead)
    if engine == "kdtree":
        slices = candidate_pairs(state, accord, lookahead)
    elif engine == "cells":
        slices = cell_candidates(state, accord, lookahead)
    else:
        raise InputError(f"engine must be 'auto', 'grid', 'cells' or 'kdtree', not {engine!r}")
    pairs = np.concatenate(slices) if slices else np.zeros((0, 2), dtype=np.intp)
    lo = np.minimum(pairs[:, 0], pairs[:, 1])
    hi = np.maximum(pairs[:, 0], pairs[:, 1])
    return _conflicts(state, tracks, lo, hi, accord, lookahead)


def _grid_conflicts(state: PlaneState, tracks: Tracks, accord: Accord,
                    lookahead_s: float) -> PairConflicts:
    """:func:`detect` by the compiled grid, which also makes the exact test, the closest
    approach and the levels (the same operations as :func:`_conflicts`); numpy takes
    the distance at closest approach (``np.hypot``) and the parties."""
    from skyaccord.tactical._grid import grid_hits

    radius, half_height = accord.minima_table_m()
    boxes = _boxes(state, accord, lookahead_s, None)
    levels = accord.levels
    table = (np.array([min(lv.time_s, lookahead_s) for lv in levels], dtype=np.float64),
             np.array([lv.minima is not None for lv in levels], dtype=bool),
             np.array([np.inf if lv.minima is None else lv.minima.horizontal_m
                       for lv in levels], dtype=np.float64),
             np.array([np.inf if lv.minima is None else lv.minima.vertical_m
                       for lv in levels], dtype=np.float64))
    hits = grid_hits(state, radius, half_height, TOLERANCE_NM * NM, TOLERANCE_FT * FT,
                     table, lookahead_s, boxes.n_slices, boxes.box_h, boxes.box_v)
    pairs = hits.pairs.astype(np.intp, copy=False)
    dcpa = np.hypot(hits.hx, hits.hy) / hits.scale
    _, party = np.unique(tracks.party, return_inverse=True)
    same = party[pairs[0]] == party[pairs[1]]
    return PairConflicts(pairs, hits.t_in_s, hits.t_out_s, hits.tcpa_s, dcpa, hits.dz_m,
                         hits.level, same)


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


@dataclass(frozen=True)
class ConflictTable:
    """Conflicts as columns in aviation units, one row per pair, sorted by
    ``(t_in_s, id1, id2)`` (what ``skyaccord detect`` writes).

    Aircraft are indices into ``ids`` (the picture's track ids), ordered so that
    ``ids[id1] < ids[id2]`` as strings; ``level`` holds codes into ``level_names``.
    :meth:`records` builds the :class:`ConflictRecord` list, for small results.
    """

    ids: npt.NDArray[np.str_]
    id1: IntArray
    id2: IntArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    """``inf``: the loss never ends along straight lines"""
    tcpa_s: FloatArray
    dcpa_nm: FloatArray
    dz_ft: FloatArray
    level: npt.NDArray[np.int8]
    level_names: tuple[str, ...]
    same_party: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.id1)

    def records(self) -> list[ConflictRecord]:
        """The rows as records (one Python object per conflict)."""
        names = self.level_names
        return [ConflictRecord(a, b, t_in, t_out, tcpa, dcpa, dz, names[lv], same)
                for a, b, t_in, t_out, tcpa, dcpa, dz, lv, same in zip(
                    self.ids[self.id1].tolist(), self.ids[self.id2].tolist(),
                    self.t_in_s.tolist(), self.t_out_s.tolist(), self.tcpa_s.tolist(),
                    self.dcpa_nm.tolist(), self.dz_ft.tolist(), self.level.tolist(),
                    self.same_party.tolist(), strict=True)]


def conflict_table(tracks: Tracks, conflicts: PairConflicts, accord: Accord) -> ConflictTable:
    """Conflicts as a :class:`ConflictTable`: aviation units, ids ordered as strings, rows
    sorted by ``(t_in_s, id1, id2)``; arrays throughout (a sort on ``t_in_s``, then
    ``np.lexsort`` among equal times)."""
    # A track's rank among the ids sorted as strings (numpy compares str by code
    # point, as Python does): comparing ranks compares the ids.
    rank = np.empty(len(tracks), dtype=np.intp)
    rank[np.argsort(tracks.id, kind="stable")] = np.arange(len(tracks))
    i, j = conflicts.pairs[0], conflicts.pairs[1]
    swap = rank[i] > rank[j]
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    # One key for (id1, id2): ranks are below N, so rank1 * N + rank2 orders the pair.
    pair_key = rank[first].astype(np.int64) * len(tracks) + rank[second]
    order = _order_by(conflicts.t_in_s, pair_key)
    return ConflictTable(
        tracks.id, first[order], second[order], conflicts.t_in_s[order],
        conflicts.t_out_s[order], conflicts.tcpa_s[order], conflicts.dcpa_m[order] / NM,
        conflicts.dz_m[order] / FT, conflicts.level[order], level_names(accord),
        conflicts.same_party[order])


def _order_by(t: FloatArray, key: npt.NDArray[np.int64]) -> IntArray:
    """The order of ``(t, key)``, as ``np.lexsort((key, t))`` gives it (keys distinct).

    A sort on ``t`` alone (numpy's vectorised quicksort, several times faster than the
    stable sorts lexsort makes) and then ``lexsort`` on the rows whose ``t`` is shared:
    those lie in runs, and sorting them among themselves leaves every run in place.
    """
    order = np.argsort(t)
    st = t[order]
    shared = np.zeros(len(t), dtype=bool)
    same = st[1:] == st[:-1]
    shared[1:] |= same
    shared[:-1] |= same
    if shared.any():
        sub = order[shared]
        order[shared] = sub[np.lexsort((key[sub], t[sub]))]
    return order


def conflict_records(tracks: Tracks, conflicts: PairConflicts,
                     accord: Accord) -> list[ConflictRecord]:
    """Conflicts as records sorted by ``(t_in_s, id1, id2)``: the CLI's CSV rows."""
    return conflict_table(tracks, conflicts, accord).records()


#: header of ``skyaccord detect``'s output (a stable interface)
CONFLICT_COLUMNS = ("id1", "id2", "t_in_s", "t_out_s", "tcpa_s", "dcpa_nm", "dz_ft", "level")
#: decimals of each number column of the CSV
_DECIMALS = {"t_in_s": 3, "t_out_s": 3, "tcpa_s": 3, "dcpa_nm": 4, "dz_ft": 2}


def write_conflicts_csv(conflicts: ConflictTable | Sequence[ConflictRecord],
                        out: TextIO | BinaryIO) -> None:
    """Write conflicts to the stream ``out`` (text or binary; UTF-8) as the ``detect`` CSV
    (:data:`CONFLICT_COLUMNS`; ``t_out_s`` ``inf`` when the loss never ends).

    A :class:`ConflictTable` is formatted column-wise by a compiled loop; records (a
    list) row by row with the csv module. Both give the same bytes.
    """
    if not isinstance(conflicts, ConflictTable):
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        w.writerow(CONFLICT_COLUMNS)
        for r in conflicts:
            w.writerow([r.id1, r.id2, f"{r.t_in_s:.3f}",
                        "inf" if r.t_out_s == float("inf") else f"{r.t_out_s:.3f}",
                        f"{r.tcpa_s:.3f}", f"{r.dcpa_nm:.4f}", f"{r.dz_ft:.2f}", r.level])
        _write_text(out, text.getvalue())
        return
    from skyaccord.tactical._csv import TextColumn, write_rows

    t = conflicts
    binary = _binary(out)
    binary.write((",".join(CONFLICT_COLUMNS) + "\n").encode())
    seen = np.zeros(len(t.ids), dtype=bool)  # encode only the ids that appear
    seen[t.id1] = True
    seen[t.id2] = True
    used = np.flatnonzero(seen)  # (a mask: np.unique hashes, many times slower here)
    code = np.zeros(len(t.ids), dtype=np.int64)
    code[used] = np.arange(len(used))
    names = TextColumn(t.ids[used], code[t.id1])
    columns: list[object] = [names, names.with_codes(code[t.id2])]
    for name in CONFLICT_COLUMNS[2:-1]:
        columns.append((getattr(t, name), _DECIMALS[name]))
    columns.append(TextColumn(list(t.level_names), t.level))
    write_rows(binary, columns, len(t))  # type: ignore[arg-type]
    binary.flush()


def write_conflicts_parquet(conflicts: ConflictTable, path: str | Path) -> None:
    """Write conflicts to ``path`` as Parquet: the CSV's columns, numbers unrounded
    (float64), ``level`` by name, plus ``same_party`` (bool); whole or not at all (a
    temporary renamed). Needs pyarrow (the ``parquet`` extra); without it raises
    :class:`InputError` saying so."""
    from skyaccord.parquetfile import Strings, write_parquet

    t = conflicts
    # The ids go in as dictionaries of the picture's ids (the writer keeps them, instead
    # of hashing millions of strings to build its own), with no statistics (min and max
    # of millions of strings cost half the write).
    ids = t.ids.tolist()
    write_parquet({
        "id1": Strings(ids, t.id1), "id2": Strings(ids, t.id2),
        **{name: getattr(t, name) for name in CONFLICT_COLUMNS[2:-1]},
        "level": Strings(t.level_names, t.level),
        "same_party": np.asarray(t.same_party, dtype=bool),
    }, path, no_statistics=("id1", "id2"))


def _binary(out: TextIO | BinaryIO) -> BinaryIO:
    """The byte stream under ``out`` (a text stream is flushed first)."""
    if isinstance(out, io.TextIOBase):
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            return buffer  # type: ignore[no-any-return]
        return cast(BinaryIO, _TextSink(out))  # e.g. StringIO: no bytes underneath
    return cast(BinaryIO, out)


def _write_text(out: TextIO | BinaryIO, text: str) -> None:
    if isinstance(out, io.TextIOBase):
        out.write(text)
    else:
        out.write(text.encode())  # type: ignore[arg-type]


class _TextSink(io.RawIOBase):
    """Bytes written to a text stream without a buffer, decoded as UTF-8 (each write
    holds whole rows, so no character is split)."""

    def __init__(self, text: TextIO) -> None:
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self._text.write(chunk.decode("utf-8"))
        return len(chunk)
