"""Benchmark: incursion prediction for a theatre picture against the shipped borders.

10,000 tracks over Turkey, Syria, Iraq, Jordan, Lebanon and Israel, look-ahead 300 s,
the six Natural Earth 1:10m borders (~6,200 vertices). Compared side by side with the
brute force of the tests (point in polygon at every second of the look-ahead), timed on
1,000 tracks and scaled (ratio: brute / predict without depth; the brute force gives no
depth and only 1 s resolution); the inside/outside state of those tracks is checked to
agree at every sampled second away from a predicted crossing.

Depth: the exact method of :func:`skyaccord.airspace.predict_incursions` (envelope of edge
distances split at medial-axis crossings) against the former sampled one, kept here as
the reference (33 nearest-edge samples per incursion, then a 28-step golden-section
search: a lower bound of the true depth). ``depth ms`` is the time of the depths alone
(predict with depth minus predict without); ``depth >= sampled`` checks that the exact
depth is never below the sampled one (beyond 1e-6 m) and ``max gain m`` is by how much it
exceeds it at most (where the sampling missed a sharp maximum).

Run: ``python -m benchmarks.airspace``.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from benchmarks.common import best_of, peak_rss_mib, report
from skyaccord.airspace import (
    Incursions,
    predict_incursions,
    project_geometry,
    theatre_borders,
)
from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.protocol import default_accord
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

HORIZON = 300.0
BRUTE_N = 1000


def picture(n: int, seed: int = 11) -> Tracks:
    rng = np.random.default_rng(seed)
    return Tracks(np.array([f"t{k}" for k in range(n)]),
                  rng.choice(["us", "ru", "tr", "sy", "iq"], n), np.array(["manned"] * n),
                  rng.uniform(30.0, 39.5, n), rng.uniform(34.0, 46.0, n),
                  rng.uniform(1000, 40000, n), rng.uniform(150, 600, n),
                  rng.uniform(0, 360, n), np.zeros(n))


def sampled_depth(tree: shapely.STRtree, edges: np.ndarray,  # type: ignore[type-arg]
                  x0: np.ndarray, y0: np.ndarray, vx: np.ndarray,  # type: ignore[type-arg]
                  vy: np.ndarray, t0: np.ndarray, t1: np.ndarray  # type: ignore[type-arg]
                  ) -> np.ndarray:  # type: ignore[type-arg]
    """The former depth method (reference): 33 samples of the nearest-edge distance, then
    a golden-section search around the best one."""
    def dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        pts = np.asarray(shapely.points(x.reshape(-1), y.reshape(-1)))
        _, d = tree.query_nearest(pts, return_distance=True, all_matches=False)
        return np.asarray(d, dtype=np.float64).reshape(x.shape)

    n = len(x0)
    if n == 0:
        return np.zeros(0)
    u = np.linspace(0.0, 1.0, 33)
    t = t0[:, None] + (t1 - t0)[:, None] * u[None, :]
    d = dist(x0[:, None] + vx[:, None] * t, y0[:, None] + vy[:, None] * t)
    best = np.argmax(d, axis=1)
    step = (t1 - t0) / 32
    lo = np.maximum(t0, t0 + (best - 1) * step)
    hi = np.minimum(t1, t0 + (best + 1) * step)
    best_d = d[np.arange(n), best]
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a = hi - g * (hi - lo)
    b = lo + g * (hi - lo)
    da = dist(x0 + vx * a, y0 + vy * a)
    db = dist(x0 + vx * b, y0 + vy * b)
    for _ in range(26):
        best_d = np.maximum(best_d, np.maximum(da, db))
        left = da > db
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
        new = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        dn = dist(x0 + vx * new, y0 + vy * new)
        a, b = np.where(left, new, b), np.where(left, a, new)
        da, db = np.where(left, dn, db), np.where(left, da, dn)
    return np.asarray(np.maximum(best_d, np.maximum(da, db)), dtype=np.float64)


def brute(tracks: Tracks, zones: list, times: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    accord = default_accord()
    plane = LocalPlane(*picture_centre(tracks.lat, tracks.lon))
    s = plane_state(tracks, accord, plane)
    x = s.x[:, None] + s.vx[:, None] * times[None, :]
    y = s.y[:, None] + s.vy[:, None] * times[None, :]
    out = np.zeros((len(zones), len(tracks), len(times)), dtype=bool)
    for k, zone in enumerate(zones):
        proj = project_geometry(zone.geometry, plane)
        shapely.prepare(proj)
        out[k] = shapely.contains_xy(proj, x, y)
        out[k][tracks.party == zone.owner] = False
    return out


def node_ticks(tracks: Tracks, zones: list, ticks: int = 12) -> dict[str, float]:  # type: ignore[type-arg]
    """A node's ticks: 300 tracks, no depth, the plane moving a little each tick (it is
    centred on the picture), medians in ms; the zones' outlines from the cache (built
    per plane only for a zone some path's box meets) against the former way (every zone
    projected, its edges and tree built, on every call; the tests' copy of it)."""
    import time

    from skyaccord.airspace import crossing
    from tests.airspace.test_incursions_columnar import _FormerOutline

    accord = default_accord()
    part = tracks.take(np.arange(300))
    lat0, lon0 = picture_centre(part.lat, part.lon)
    out: dict[str, float] = {}
    for name, outline in (("former", _FormerOutline), ("cached", crossing._Outline)):
        saved = crossing._Outline
        crossing._Outline = outline  # type: ignore[misc,assignment]
        try:
            times = []
            for k in range(ticks):
                plane = LocalPlane(lat0 + 1e-4 * k, lon0)
                t0 = time.perf_counter()
                predict_incursions(part, zones, accord, depth=False, plane=plane)
                times.append(time.perf_counter() - t0)
        finally:
            crossing._Outline = saved  # type: ignore[misc]
        out[f"node_tick_{name}_ms"] = float(np.median(times)) * 1e3
    print(out)
    return out


def main() -> None:
    accord = default_accord()
    zones = theatre_borders()
    rows = []
    tracks = picture(10_000)
    t_pred, inc = best_of(lambda: predict_incursions(tracks, zones, accord,
                                                     lookahead_s=HORIZON, depth=False))
    t_depth, exact = best_of(lambda: predict_incursions(tracks, zones, accord,
                                                        lookahead_s=HORIZON))
    t_sampled, sampled = best_of(lambda: predict_incursions(
        tracks, zones, accord, lookahead_s=HORIZON, depth=sampled_depth), repeat=1)
    assert np.array_equal(exact.t_entry_s, sampled.t_entry_s)
    gain = exact.depth_m - sampled.depth_m
    depth_ms, sampled_ms = (t_depth - t_pred) * 1e3, (t_sampled - t_pred) * 1e3
    sub = tracks.take(np.arange(BRUTE_N))
    times = np.arange(0.0, HORIZON, 1.0)
    t_brute, truth = best_of(lambda: brute(sub, zones, times), repeat=1)
    # The plane differs between the 10,000 picture and the subset: compare on the subset.
    inc_sub = predict_incursions(sub, zones, accord, lookahead_s=HORIZON)
    got = np.zeros_like(truth)
    doubtful = np.zeros_like(truth)
    for k in range(len(inc_sub)):
        z, i = inc_sub.zone[k], inc_sub.track[k]
        lo = inc_sub.t_entry_s[k]
        hi = HORIZON if math.isnan(inc_sub.t_exit_s[k]) else inc_sub.t_exit_s[k]
        got[z, i] |= ((times > lo) | ((lo == 0) & (times == 0))) & (times < hi)
        for t in (lo, hi):
            doubtful[z, i] |= np.abs(times - t) < 1e-3
    agree = bool(np.array_equal(truth & ~doubtful, got & ~doubtful))
    brute_scaled = t_brute * len(tracks) / BRUTE_N
    vertices = sum(shapely.get_num_coordinates(z.geometry) for z in zones)
    rows.append(("10,000 tracks x 6 borders", len(tracks), vertices, len(inc),
                 int(np.isnan(Incursions(*inc).t_exit_s).sum()),
                 round(t_pred * 1e3, 1), round(brute_scaled, 2),
                 round(brute_scaled / t_pred, 1), "yes" if agree else "NO",
                 round(depth_ms, 1), round(sampled_ms, 1), round(sampled_ms / depth_ms, 1),
                 "yes" if bool((gain >= -1e-6).all()) else "NO",
                 round(float(gain.max()), 3)))
    report("airspace",
           ["case", "tracks", "vertices", "incursions", "not leaving", "predict ms",
            "brute 1 s steps s", "ratio", "agree", "depth ms", "sampled depth ms",
            "depth ratio", "depth >= sampled", "max gain m"],
           rows, {"peak_rss_mib": peak_rss_mib(), "lookahead_s": HORIZON,
                  "brute_tracks_timed": BRUTE_N, **node_ticks(tracks, zones)})


if __name__ == "__main__":
    main()
