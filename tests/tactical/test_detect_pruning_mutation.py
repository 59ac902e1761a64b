"""The pair search's promises checked by brute force: how many slices it cuts the
look-ahead into (the count that minimises the documented summed box volume), and which
pairs each slice hands to the exact test (those within the documented box at the
slice's middle and not within it at the middle of the slice before, each pair once).

These are promises about the pruning, not about the conflicts found (other tests check
those against the plain reference): a search that returns more candidates still finds
every conflict, only slower, so no conflict test can see it. Written for the survivors
of the detect mutation run (mutmut names in tests/mutation/README.md); each test names
the mutations it kills.
"""

from __future__ import annotations

import numpy as np
import pytest

from skyaccord.geo import LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical.detect import _MAX_SLICES, candidate_pairs
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

ACCORD = default_accord()
PLANE = LocalPlane(35.5, 37.5)
#: the searches checked (test_detect_pruning_cells_mutation.py adds the cell grid)
ENGINES = {"kdtree": candidate_pairs}


def picture(n: int, seed: int, spread_m: float, max_kt: float, max_fpm: float) -> Tracks:
    """``n`` aircraft within ``spread_m`` of the plane's centre, random tracks, ground
    speeds up to ``max_kt`` and vertical speeds up to ``max_fpm`` (both reached by the
    first aircraft, so that the bounds the boxes use are known), altitudes 10,000 to
    14,000 ft."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-spread_m, spread_m, (2, n))
    lat, lon = PLANE.inverse(x, y)
    gs = rng.uniform(0.0, max_kt, n)
    vs = rng.uniform(-max_fpm, max_fpm, n)
    gs[0], vs[0] = max_kt, max_fpm
    return Tracks(np.array([f"t{k:03d}" for k in range(n)]), np.array(["us", "ru"] * (n // 2)),
                  np.array(["manned"] * n), lat, lon, rng.uniform(10_000, 14_000, n), gs,
                  rng.uniform(0, 360, n), vs)


def expected_slices(tracks: Tracks, lookahead_s: float) -> int:
    """The K in 1.._MAX_SLICES that minimises ``K (R + vT/K)^2 (H + wT/K)`` (the
    detect module's documented cost), R and H the largest minima (R at the largest scale
    factor), v and w the fastest plane speeds, by trying every K; the best must beat the
    next best clearly (no tie decided by rounding)."""
    s = plane_state(tracks, ACCORD, PLANE)
    radius, half = ACCORD.minima_table_m()
    r = float(radius.max()) * float(s.scale.max())
    h = float(half.max())
    v = float(np.hypot(s.vx, s.vy).max())
    w = float(np.abs(s.vz).max())
    k = np.arange(1, _MAX_SLICES + 1, dtype=float)
    cost = k * (r + v * lookahead_s / k) ** 2 * (h + w * lookahead_s / k)
    best, second = np.sort(cost)[:2]
    assert second > best * (1 + 1e-6)
    return int(k[np.argmin(cost)])


# (picture, look-ahead, the slice count it must give: by the cost or by hand)
CASES = [
    # all standing still: one slice (more only add boxes)
    ("still", picture(30, 1, 40e3, 0.0, 0.0), 300.0, 1),
    # level traffic at 480 kt over 5 min: K (R + vT/K)^2 is least near K = vT/R = 8.0
    ("level", picture(30, 2, 40e3, 480.0, 0.0), 300.0, None),
    # climbing and descending at 6,000 fpm: the vertical term moves the optimum
    ("climbing", picture(30, 3, 40e3, 480.0, 6000.0), 300.0, None),
    # fast for an hour: vT/R is about 120, beyond the cap
    ("capped", picture(30, 4, 40e3, 600.0, 0.0), 3600.0, _MAX_SLICES),
]


@pytest.mark.parametrize(("name", "tracks", "look", "want"), CASES, ids=[c[0] for c in CASES])
def test_the_slice_count_minimises_the_documented_box_volume(
        name: str, tracks: Tracks, look: float, want: int | None,
        engine: str = "kdtree") -> None:
    """One candidate array per slice, as many slices as minimise the summed box volume.

    Mutations killed (detect group): ``_slice_count``'s loop from 2 (mutmut_7: never one
    slice, the still picture), to ``_MAX_SLICES - 1`` or ``+ 2`` (mutmut_8, 9: the capped
    picture), ``tau`` with ``* (2 * k)``, ``/ (2 / k)``, ``/ (3 * k)`` (11-13), the cost's
    ``/`` for ``*`` and ``/`` for ``k *`` (15, 16), ``* 2`` for ``** 2`` and ``** 3``
    (17, 22), ``r - 2 v tau`` and ``v / tau`` and ``3 v`` (18, 19, 21), ``h - 2 w tau``,
    ``w / tau``, ``3 w`` (23, 24, 26: the climbing picture)."""
    k = expected_slices(tracks, look)
    if want is not None:
        assert k == want
    else:
        assert 2 <= k < _MAX_SLICES
    s = plane_state(tracks, ACCORD, PLANE)
    assert len(ENGINES[engine](s, ACCORD, look)) == k


def chebyshev(p: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(p[i] - p[j]).max(axis=1))


@pytest.mark.parametrize("n_slices", [None, 1, 5])
def test_each_slice_hands_on_exactly_the_pairs_within_its_box(
        n_slices: int | None, engine: str = "kdtree") -> None:
    """Each slice's candidates against every pair tried: a pair is a candidate of slice
    ``s`` when its distance at the slice's middle ``(2 s + 1) tau`` (``tau = T / 2K``),
    per axis, is within the box ``R + 2 v tau`` across and ``H + 2 w tau`` up, and it was
    not within the box at the middle of slice ``s - 1``; each pair once. Pairs within
    1e-6 of the box's size of its edge may go either way (the search's rounding slack).

    Mutations killed (detect group): the boxes widened (``_boxes``: ``R (2 + 1e-7)``,
    ``R (1 + 1.0000001)``, the same on H, ``tau = T * 2k`` and ``T / (2 / k)``, ``3 v
    tau``, ``3 w tau``: mutmut_9, 10, 17, 18, 44, 45, 58, 62); the slices' middles
    ``(3 s + 1) tau`` (candidate_pairs__mutmut_22); an axis of the k-d tree's points
    dropped or squeezed (x into column 1, y into column 2, z divided by the scale:
    mutmut_28, 32, 37); ``previous = None`` (mutmut_74: a pair again in every slice
    where it is near)."""
    tracks = picture(150, 7, 150e3, 480.0, 4000.0)
    look = 300.0
    s = plane_state(tracks, ACCORD, PLANE)
    k = n_slices or expected_slices(tracks, look)
    radius, half = ACCORD.minima_table_m()
    tau = look / (2 * k)
    box_h = (float(radius.max()) * float(s.scale.max())
             + 2 * float(np.hypot(s.vx, s.vy).max()) * tau)
    box_v = float(half.max()) + 2 * float(np.abs(s.vz).max()) * tau
    n = len(tracks)
    i, j = np.triu_indices(n, 1)
    got = ENGINES[engine](s, ACCORD, look, n_slices)
    assert len(got) == k
    seen: set[tuple[int, int]] = set()
    prev_sure = prev_maybe = np.zeros(len(i), dtype=bool)  # in the slice before's box
    for sl in range(k):
        t = (2 * sl + 1) * tau
        # per-axis distances in units of the box: <= 1 is inside
        p = np.column_stack([(s.x + s.vx * t) / box_h, (s.y + s.vy * t) / box_h,
                             (s.z + s.vz * t) / box_v])
        d = chebyshev(p, i, j)
        pairs = {(min(a, b), max(a, b)) for a, b in got[sl].tolist()}
        assert len(pairs) == len(got[sl]), "a pair twice in one slice"
        assert not pairs & seen, "a pair in two slices"
        seen |= pairs
        member = np.array([(a, b) in pairs for a, b in zip(i.tolist(), j.tolist(), strict=True)])
        must = (d <= 1 - 1e-6) & ~prev_maybe
        may = (d <= 1 + 1e-6) & ~prev_sure
        assert not (must & ~member).any(), f"slice {sl}: a pair within the box missed"
        assert not (member & ~may).any(), f"slice {sl}: a pair outside the box handed on"
        prev_sure, prev_maybe = d <= 1 - 1e-6, d <= 1 + 1e-6
    # the picture is dense enough that every slice has candidates to check and that many
    # pairs lie outside the boxes
    assert 50 < len(seen) < 0.8 * len(i)
