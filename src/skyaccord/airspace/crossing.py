"""Predicted incursions of tracks into zones: inside now, entry, exit, depth, duration.

Tracks fly straight lines in a conformal local plane (the tactical engine's
:func:`skyaccord.tactical.kinematics.plane_state`, centred on the picture) and climb at
their vertical speed; zones are projected onto the same plane, so that an edge is a
straight chord between its projected vertices (the same convention as the tracks).

Method, per zone:

1. candidate (track, edge) pairs: the track's path over ``[0, T]`` against every edge of
   every ring, through a shapely 2 ``STRtree`` of edges (a ``(2, n)`` index array);
2. exact crossing times of candidates by the segment-intersection formula (numpy);
3. the state between consecutive crossings decided by a point-in-polygon test at the
   middle of each piece (``shapely.contains_xy``), so vertices, tangencies and
   overlapping rings need no special case;
4. inside pieces intersected with the altitude band (``lower <= alt < upper``, solved
   for linear altitude) and the zone's active window, then clipped to ``[0, T]``.

Depth of an incursion: the largest distance from the zone's boundary reached along the
inside part of the path within the look-ahead (ground metres): 33 samples, then a
golden-section refinement around the best one; distances come from a nearest-edge query
on the edge tree. It is the costly part (tens of microseconds per incursion): pass
``depth=False`` when only times are wanted (``depth_m`` is then nan).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from skyaccord.airspace.zones import Zone
from skyaccord.geo import FloatArray, LocalPlane, picture_centre
from skyaccord.protocol import Accord
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

__all__ = ["Incursions", "predict_incursions", "project_geometry"]

IntArray = npt.NDArray[np.intp]
_DEPTH_SAMPLES = 33
_PARALLEL = 1e-12


class Incursions(NamedTuple):
    """Present and predicted incursions, one entry per (track, zone, inside interval).

    Sorted by ``(track, zone, t_entry_s)``; every field has shape ``(n,)``.
    """

    track: IntArray
    """index into the tracks"""
    zone: IntArray
    """index into the zones"""
    t_entry_s: FloatArray
    """start of the incursion from now, s (0: inside now)"""
    t_exit_s: FloatArray
    """end of the incursion, s (nan: not leaving within the look-ahead)"""
    depth_m: FloatArray
    """greatest distance inside the boundary within the look-ahead, ground metres"""
    entry_lat: FloatArray
    """position at t_entry_s, degrees"""
    entry_lon: FloatArray
    exit_lat: FloatArray
    """position at t_exit_s, degrees (nan when not leaving)"""
    exit_lon: FloatArray

    def __len__(self) -> int:
        return int(self.track.shape[0])

    @property
    def inside_now(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.t_entry_s == 0.0, dtype=bool)

    @property
    def duration_s(self) -> FloatArray:
        """t_exit - t_entry (nan when not leaving within the look-ahead)."""
        return self.t_exit_s - self.t_entry_s

    @classmethod
    def empty(cls) -> Incursions:
        f = np.zeros(0)
        i = np.zeros(0, dtype=np.intp)
        return cls(i, i, f, f, f, f, f, f, f)


def project_geometry(geom: BaseGeometry, plane: LocalPlane) -> BaseGeometry:
    """A lon/lat geometry in plane metres (vertices projected; edges stay straight)."""
    def fwd(coords: FloatArray) -> FloatArray:
        x, y = plane.forward(coords[:, 1], coords[:, 0])
        return np.column_stack([x, y])
    return shapely.transform(geom, fwd)


def _edges(geom: BaseGeometry) -> FloatArray:
    """All ring edges of a (Multi)Polygon as an (m, 4) array ax, ay, bx, by."""
    rings = []
    for poly in shapely.get_parts(geom):
        rings.append(np.asarray(poly.exterior.coords))
        rings.extend(np.asarray(r.coords) for r in poly.interiors)
    return np.vstack([np.hstack([r[:-1], r[1:]]) for r in rings])


def _vertical_window(z0: FloatArray, vz: FloatArray, lower: float,
                     upper: float) -> tuple[FloatArray, FloatArray]:
    """Times where ``lower <= z0 + vz t < upper`` (an interval, maybe empty or infinite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_lo = (lower - z0) / vz
        t_hi = (upper - z0) / vz
    climbing = vz > 0
    level = vz == 0
    start = np.where(climbing, t_lo, t_hi)
    end = np.where(climbing, t_hi, t_lo)
    inside_level = (z0 >= lower) & (z0 < upper)
    start = np.where(level, np.where(inside_level, -np.inf, np.inf), start)
    end = np.where(level, np.where(inside_level, np.inf, -np.inf), end)
    return np.nan_to_num(start, nan=-np.inf), np.nan_to_num(end, nan=np.inf)


def _distance(edges: shapely.STRtree, x: FloatArray, y: FloatArray) -> FloatArray:
    """Distance from points to the nearest edge in the tree (the zone's boundary)."""
    points = np.asarray(shapely.points(x.reshape(-1), y.reshape(-1)))
    _, dist = edges.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=np.float64).reshape(x.shape)


def _depth(edges: shapely.STRtree, x0: FloatArray, y0: FloatArray, vx: FloatArray,
           vy: FloatArray, t0: FloatArray, t1: FloatArray) -> FloatArray:
    """Greatest distance to the boundary along each path piece ``[t0, t1]`` (plane m)."""
    n = len(x0)
    if n == 0:
        return np.zeros(0)
    u = np.linspace(0.0, 1.0, _DEPTH_SAMPLES)
    t = t0[:, None] + (t1 - t0)[:, None] * u[None, :]
    d = _distance(edges, x0[:, None] + vx[:, None] * t, y0[:, None] + vy[:, None] * t)
    best = np.argmax(d, axis=1)
    step = (t1 - t0) / (_DEPTH_SAMPLES - 1)
    lo = np.maximum(t0, t0 + (best - 1) * step)
    hi = np.minimum(t1, t0 + (best + 1) * step)
    best_d = d[np.arange(n), best]
    # Golden-section search for the maximum, one new distance per step.
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a = hi - g * (hi - lo)
    b = lo + g * (hi - lo)
    da = _distance(edges, x0 + vx * a, y0 + vy * a)
    db = _distance(edges, x0 + vx * b, y0 + vy * b)
    for _ in range(26):
        best_d = np.maximum(best_d, np.maximum(da, db))
        left = da > db  # the maximum lies in [lo, b]: b <- a, new a
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
        new = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        dn = _distance(edges, x0 + vx * new, y0 + vy * new)
        a, b = np.where(left, new, b), np.where(left, a, new)
        da, db = np.where(left, dn, db), np.where(left, da, dn)
    return np.asarray(np.maximum(best_d, np.maximum(da, db)), dtype=np.float64)


def predict_incursions(
    tracks: Tracks,
    zones: Sequence[Zone],
    accord: Accord,
    *,
    lookahead_s: float | None = None,
    t_now_s: float = 0.0,
    plane: LocalPlane | None = None,
    exclude_own: bool = True,
    depth: bool = True,
) -> Incursions:
    """Every present and predicted incursion of a track into a zone within the look-ahead.

    Parameters
    ----------
    tracks
        The picture, N tracks (aviation units).
    zones
        Zones to test; a track never intrudes into a zone of its own party when
        ``exclude_own`` (the default).
    accord
        Gives the default look-ahead and the aircraft classes of the tracks.
    lookahead_s
        Overrides ``accord.lookahead_s``.
    t_now_s
        UTC seconds of the picture (for the zones' active windows).
    plane
        The local plane; by default the one :func:`skyaccord.tactical.detect` uses.
    exclude_own
        Skip zones owned by the track's own party (the default).
    depth
        Compute ``depth_m`` (the costly part); nan when False.

    Returns
    -------
    Incursions
        One entry per inside interval that meets ``[0, lookahead)``.

    Examples
    --------
    A track 10 km south of a 20 km square, flying north at 200 m/s: in at 50 s, out at
    150 s, 10 km deep at the square's centre.

    >>> from skyaccord.protocol import default_accord
    >>> from skyaccord.geo import LocalPlane
    >>> plane = LocalPlane(35.0, 38.0)
    >>> lat, lon = plane.inverse(np.array([-1e4, 1e4, 1e4, -1e4]), np.array([0, 0, 2e4, 2e4]))
    >>> square = Zone("box", "sy", "restricted", shapely.Polygon(np.column_stack([lon, lat])))
    >>> la, lo = plane.inverse(np.array([0.0]), np.array([-1e4]))
    >>> t = Tracks.from_rows([("a", "us", "manned", la[0], lo[0], 20000, 200 * 3600 / 1852,
    ...                        0, 0)])
    >>> inc = predict_incursions(t, [square], default_accord(), plane=plane)
    >>> [round(float(v), 1) for v in (inc.t_entry_s[0], inc.t_exit_s[0], inc.depth_m[0])]
    [50.0, 150.0, 10000.0]
    """
    horizon = accord.lookahead_s if lookahead_s is None else float(lookahead_s)
    n = len(tracks)
    if n == 0 or not zones:
        return Incursions.empty()
    if plane is None:
        plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    state = plane_state(tracks, accord, plane)
    x0, y0, vx, vy = state.x, state.y, state.vx, state.vy
    x1, y1 = x0 + vx * horizon, y0 + vy * horizon
    paths = np.asarray(shapely.linestrings(np.stack([np.column_stack([x0, y0]),
                                          np.column_stack([x1, y1])], axis=1)))
    moving = (vx != 0) | (vy != 0)
    parts: list[tuple[IntArray, int, FloatArray, FloatArray, FloatArray]] = []

    for zk, zone in enumerate(zones):
        eligible = np.ones(n, dtype=bool)
        if exclude_own:
            eligible &= tracks.party != zone.owner
        # Time window and altitude band as one interval per track.
        v_start, v_end = _vertical_window(state.z, state.vz, zone.lower_m, zone.upper_m)
        w_start = np.maximum(v_start, zone.active_from_s - t_now_s)
        w_end = np.minimum(v_end, zone.active_until_s - t_now_s)
        eligible &= (w_start < np.minimum(w_end, horizon)) & (w_end > 0)
        if not eligible.any():
            continue
        proj = project_geometry(zone.geometry, plane)
        shapely.prepare(proj)
        edges = _edges(proj)
        tree = shapely.STRtree(np.asarray(shapely.linestrings(
            np.stack([edges[:, :2], edges[:, 2:]], axis=1))))
        idx = np.flatnonzero(eligible & moving)
        cand = tree.query(paths[idx], predicate="intersects")
        ti, e = idx[cand[0]], cand[1]
        # Exact crossing times: p + v t = a + s (b - a).
        ex, ey = edges[e, 2] - edges[e, 0], edges[e, 3] - edges[e, 1]
        qx, qy = edges[e, 0] - x0[ti], edges[e, 1] - y0[ti]
        denom = vx[ti] * ey - vy[ti] * ex
        ok = np.abs(denom) > _PARALLEL * np.hypot(vx[ti], vy[ti]) * np.hypot(ex, ey)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cross = (qx * ey - qy * ex) / denom
        keep = ok & (t_cross > 0) & (t_cross < horizon)
        ti, t_cross = ti[keep], t_cross[keep]
        # Breakpoints per track: 0, crossings, horizon; pieces between them.
        elig = np.flatnonzero(eligible)
        bt = np.concatenate([elig, elig, ti])
        bv = np.concatenate([np.zeros(len(elig)), np.full(len(elig), horizon), t_cross])
        order = np.lexsort((bv, bt))
        bt, bv = bt[order], bv[order]
        same = bt[1:] == bt[:-1]
        p_track = bt[:-1][same]
        p_lo, p_hi = bv[:-1][same], bv[1:][same]
        nonempty = p_hi > p_lo
        p_track, p_lo, p_hi = p_track[nonempty], p_lo[nonempty], p_hi[nonempty]
        mid = 0.5 * (p_lo + p_hi)
        inside = shapely.contains_xy(proj, x0[p_track] + vx[p_track] * mid,
                                     y0[p_track] + vy[p_track] * mid)
        p_track, p_lo, p_hi = p_track[inside], p_lo[inside], p_hi[inside]
        # Merge touching inside pieces (a crossing at a vertex seen twice, say).
        if len(p_track):
            join = np.ones(len(p_track), dtype=bool)
            join[1:] = ~((p_track[1:] == p_track[:-1]) & (p_lo[1:] <= p_hi[:-1]))
            first = np.flatnonzero(join)
            p_hi = np.maximum.reduceat(p_hi, first)
            p_track, p_lo = p_track[first], p_lo[first]
        # Intersect with the vertical/time window.
        lo = np.maximum(p_lo, w_start[p_track])
        hi = np.minimum(p_hi, w_end[p_track])
        live = (lo < hi) & (lo < horizon)
        p_track, lo, hi = p_track[live], lo[live], hi[live]
        lo = np.maximum(lo, 0.0)
        deepest = (_depth(tree, x0[p_track], y0[p_track], vx[p_track], vy[p_track], lo,
                          np.minimum(hi, horizon)) / state.scale[p_track]
                   if depth else np.full(len(p_track), np.nan))
        parts.append((p_track, zk, lo, hi, deepest))

    if not parts:
        return Incursions.empty()
    track = np.concatenate([p[0] for p in parts])
    zone_idx = np.concatenate([np.full(len(p[0]), p[1], dtype=np.intp) for p in parts])
    t_in = np.concatenate([p[2] for p in parts])
    t_out = np.concatenate([p[3] for p in parts])
    depth_m = np.concatenate([p[4] for p in parts])
    order = np.lexsort((t_in, zone_idx, track))
    track, zone_idx, t_in, t_out, depth_m = (a[order] for a in (track, zone_idx, t_in, t_out,
                                                                 depth_m))
    t_out = np.where(t_out >= horizon, np.nan, t_out)
    en_lat, en_lon = plane.inverse(x0[track] + vx[track] * t_in, y0[track] + vy[track] * t_in)
    t_x = np.nan_to_num(t_out, nan=0.0)
    ex_lat, ex_lon = plane.inverse(x0[track] + vx[track] * t_x, y0[track] + vy[track] * t_x)
    gone = np.isnan(t_out)
    return Incursions(track.astype(np.intp), zone_idx, t_in, t_out, depth_m, en_lat, en_lon,
                      np.where(gone, np.nan, ex_lat), np.where(gone, np.nan, ex_lon))
