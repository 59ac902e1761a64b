"""The compiled grid (``detect(engine="grid")``, :mod:`skyaccord.tactical._grid`) against
independent truth, written for the survivors of the detect group's mutation run
(``tests/mutation/run.py detect``; the grid's kernels run there as plain Python).

* Hand-worked encounters in an exact plane: the picture's plane state is given directly
  (``detect``'s ``plane_state`` replaced), so that positions, velocities and the scale
  factor are exact numbers and a boundary can be placed to the micrometre. Each answer
  is worked out by hand and the grid must also equal the all-pairs reference
  (``detect_all_pairs``: numpy, no code shared with the grid) bit for bit, the sign of a
  zero included (the module's promise; ``-0.000`` and ``0.000`` differ in the CSV).
* The plain per-pair reference of :mod:`._reference` (its own projection, geodesic
  velocities and scale factors) on the pictures of ``test_reference.py``, through the
  grid.
* The cells' coarsening for a continent-wide picture (the promise of at most
  ``_MAX_CELLS`` cells, each at least a search box wide) and its end.

Each test's docstring names the mutants (``_grid`` or ``detect``) it kills.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import pytest

from skyaccord.geo import FT, NM, LocalPlane
from skyaccord.protocol import Accord, AlertLevel, Minima, default_accord
from skyaccord.tactical import _grid, detect, detect_all_pairs
from skyaccord.tactical.detect import PairConflicts
from skyaccord.tactical.kinematics import TOLERANCE_FT, TOLERANCE_NM, PlaneState
from skyaccord.tracks import Tracks

from ._reference import reference_detect
from .test_detect import random_picture
from .test_reference import PICTURES, assert_equals_reference, cluster_picture

detect_module = importlib.import_module("skyaccord.tactical.detect")  # not the function
ACCORD = default_accord()  # 5 NM / 1000 ft; levels at 300 s, 120 s, 60 s (3 NM, 1000 ft)
_RADIUS, _HALF = ACCORD.minima_table_m()
R5 = float(_RADIUS[0, 0]) - TOLERANCE_NM * NM  # the radius tested against, plane metres
R3 = 3 * NM - TOLERANCE_NM * NM  # the "warning" level's
H = float(_HALF[0, 0]) - TOLERANCE_FT * FT  # the half-height tested against
LEVEL = {"none": 0, "preventive": 1, "corrective": 2, "warning": 3}
FIELDS = ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m", "level", "same_party")

Row = tuple[float, float, float, float, float, float]
T = TypeVar("T")


def within(seconds: float, work: Callable[[], T]) -> T:
    """``work()``, which must end within ``seconds`` (run on a daemon thread, so that
    a kernel that loops forever fails the test instead of hanging it)."""
    result: list[T] = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert result, f"did not finish within {seconds} s"
    return result[0]


@pytest.fixture
def exact_plane(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``detect`` and ``detect_all_pairs`` take the plane state that :func:`grid`
    stores (the tracks then only give ids and parties)."""
    monkeypatch.setattr(detect_module, "plane_state",
                        lambda tracks, accord, plane=None: _STATE["state"])
    yield
    _STATE.clear()


_STATE: dict[str, PlaneState] = {}


def grid(rows: list[Row], scale: float = 1.0, lookahead_s: float | None = None,
         accord: Accord = ACCORD) -> PairConflicts:
    """The grid's conflicts among aircraft at ``rows`` (x, y, z m; vx, vy, vz m/s in the
    plane), every field equal, bit for bit, to the all-pairs reference's."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    n = len(a)
    x, y, z, vx, vy, vz = (np.ascontiguousarray(a[:, c]) for c in range(6))
    _STATE["state"] = PlaneState(x, y, z, vx, vy, vz, np.full(n, scale),
                                 np.zeros(n, dtype=np.int16))
    zeros = np.zeros(n)
    tracks = Tracks(np.array([f"a{i}" for i in range(n)]),
                    np.array(["us", "ru"] * (n // 2) + ["us"] * (n % 2)),
                    np.full(n, "manned"), zeros, zeros, zeros, zeros, zeros, zeros)
    got = within(60.0, lambda: detect(tracks, accord, engine="grid", lookahead_s=lookahead_s))
    want = detect_all_pairs(tracks, accord, lookahead_s=lookahead_s)
    assert np.array_equal(got.pairs, want.pairs)
    for field in FIELDS:
        g, w = getattr(got, field), getattr(want, field)
        assert g.dtype == w.dtype, field
        np.testing.assert_array_equal(g, w, err_msg=field)
        if g.dtype.kind == "f":
            assert np.array_equal(np.signbit(g), np.signbit(w)), field
    return got


def only(c: PairConflicts) -> dict[str, float]:
    assert len(c) == 1
    return {f: float(getattr(c, f)[0]) for f in FIELDS}


@pytest.mark.usefixtures("exact_plane")
def test_still_aircraft_in_loss_and_apart() -> None:
    """Two aircraft that do not move: 2 NM apart a loss from now that never ends
    (warning level, closest approach now); 3 NM apart the same but "corrective" (the
    warning level's 3 NM less its tolerance is not reached); exactly 5 NM, or 10 um
    beyond the radius less its tolerance, or exactly 1000 ft above, no loss.

    Mutants killed: ``_interval`` 48 (``c < 1.0`` for ``c < 0.0``: a still pair within
    54 um beyond the radius in loss), 49, 51, 52, 53 (the still branches' ``-inf``/
    ``inf`` made ``None``), 50 (a still pair in loss given ``h_in = +inf``: no loss);
    ``_slice_hits`` 282, 283 (the minima plus their tolerance in the search's exact
    test), ``_pair_values`` 81 (tcpa divided by a zero closing speed), 88 (tcpa 1 for a
    still pair), 134 (a level's 3 NM plus its tolerance)."""
    r = only(grid([(0, 0, 9000, 0, 0, 0), (2 * NM, 0, 9000, 0, 0, 0)]))
    assert r["t_in_s"] == 0.0 and r["t_out_s"] == math.inf and r["tcpa_s"] == 0.0
    assert r["dcpa_m"] == 2 * NM and r["dz_m"] == 0.0 and r["level"] == LEVEL["warning"]
    r = only(grid([(0, 0, 9000, 0, 0, 0), (0, 3 * NM, 9000, 0, 0, 0)]))
    assert r["t_in_s"] == 0.0 and r["t_out_s"] == math.inf
    assert r["level"] == LEVEL["corrective"]
    assert len(grid([(0, 0, 9000, 0, 0, 0), (5 * NM, 0, 9000, 0, 0, 0)])) == 0
    assert len(grid([(0, 0, 9000, 0, 0, 0), (0, R5 + 1e-5, 9000, 0, 0, 0)])) == 0
    assert len(grid([(0, 0, 0.0, 0, 0, 0), (1.0, 0, 1000 * FT, 0, 0, 0)])) == 0
    r = only(grid([(0, 0, 9000, 0, 0, 0), (0, R5 - 1e-5, 9000, 0, 0, 0)]))
    assert r["level"] == LEVEL["corrective"]


@pytest.mark.usefixtures("exact_plane")
def test_far_from_the_centre_the_radius_grows_with_the_scale_factor() -> None:
    """Where the plane's scale factor is 1.004 (about 800 km from its centre), plane
    distances are 1.004 times the ground's: two still aircraft 5 NM less 2 cm apart on
    the ground (times 1.004 in the plane) are in loss, 5 NM plus 2 cm apart are not; at
    3 NM less 2 cm the loss is at the warning level, 3 NM plus 2 cm corrective.

    Mutants killed: ``_slice_hits`` 281 (the radius divided by the scale factor in the
    search's exact test: 74 m short here), ``_pair_values`` 133 (the same in a level's
    test)."""
    k = 1.004
    for ground, hit in ((5 * NM - 0.02, True), (5 * NM + 0.02, False)):
        c = grid([(0, 0, 9000, 0, 0, 0), (ground * k, 0, 9000, 0, 0, 0)], scale=k)
        assert len(c) == int(hit)
    for ground, level in ((3 * NM - 0.02, "warning"), (3 * NM + 0.02, "corrective")):
        r = only(grid([(0, 0, 9000, 0, 0, 0), (0, ground * k, 9000, 0, 0, 0)], scale=k))
        assert r["level"] == LEVEL[level]
        assert r["dcpa_m"] == pytest.approx(ground, abs=1e-9)


@pytest.mark.usefixtures("exact_plane")
def test_almost_matched_speeds_stay_in_loss() -> None:
    """Two aircraft 5,000 m apart in trail, the one behind 0.1 mm/s slower: in loss from
    now for (R - 5000 m) / 1e-4 m/s, about 4.3e7 s. The quadratic's discriminant is
    ``b^2 - a c`` = 0.25 + 0.61 (m^2/s)^2 here, below 1.

    Mutant killed: ``_interval`` 21 (``disc > 1.0`` for ``disc > 0.0``: no loss)."""
    r = only(grid([(0, 0, 9000, 0, 100.0, 0), (0, 5000.0, 9000, 0, 100.0001, 0)]))
    assert r["t_in_s"] == 0.0
    assert r["t_out_s"] == pytest.approx((R5 - 5000.0) / 1e-4, rel=1e-6)
    assert r["level"] == LEVEL["warning"]


@pytest.mark.usefixtures("exact_plane")
def test_zero_times_keep_the_references_sign() -> None:
    """Two aircraft 1 km apart abeam (north-south), one flying east at 100 m/s: at
    closest approach now, ``tcpa = -(0 * 100 + 1000 * 0) / 100^2 = -0.0``, which the
    reference's ``np.clip`` keeps. Two aircraft one above the other exactly H apart
    (1000 ft less the tolerance), the upper descending: the loss begins at
    ``(H - H) / -1 = -0.0``, which ``np.maximum(t_in, 0.0)`` makes ``+0.0``.

    Mutants killed: ``_pair_values`` 93 (``tcpa <= 0.0``: ``+0.0``), ``_np_max`` 4 (``a
    >= b``: the tie given to ``a``, ``-0.0``)."""
    r = only(grid([(0, 0, 9000, 0, 0, 0), (0, 1000.0, 9000, 100.0, 0, 0)]))
    assert r["tcpa_s"] == 0.0 and math.copysign(1.0, r["tcpa_s"]) == -1.0
    assert r["dcpa_m"] == 1000.0
    r = only(grid([(0, 0, 0.0, 0, 0, 0), (0, 0, H, 0, 0, -1.0)]))
    assert r["t_in_s"] == 0.0 and math.copysign(1.0, r["t_in_s"]) == 1.0
    assert r["t_out_s"] == pytest.approx(2 * H)


@pytest.mark.usefixtures("exact_plane")
@pytest.mark.parametrize("offset_km", [0.0, -900.0])
def test_conflict_of_the_westernmost_aircraft_in_a_wide_picture(offset_km: float) -> None:
    """A head-on pair at the picture's western edge, closing at 400 m/s from 20 km (the
    loss begins after (20,000 - R) / 400 s, closest approach at 50 s), and still aircraft
    600 km east (the grid many cells wide); the same picture 900 km south-west of the
    plane's centre (every coordinate negative).

    Mutants killed: ``_slice_hits`` 54 (the cell column from ``(x - x0) * cell``: every
    point but the westernmost in the last column, the westernmost's pairs lost), 34
    (the rows counted from ``max + min`` of y: none, or fewer than there are, where y
    is negative throughout)."""
    d = offset_km * 1000.0
    rows: list[Row] = [(d, d, 9000, 200.0, 0, 0), (d + 20_000.0, d, 9000, -200.0, 0, 0)]
    rows += [(d + 200_000.0 * m, d + 5_000.0 * m, 9000, 0, 0, 0) for m in (1, 2, 3)]
    r = only(grid(rows))
    assert r["t_in_s"] == pytest.approx((20_000.0 - R5) / 400.0, rel=1e-12)
    assert r["tcpa_s"] == 50.0 and r["dcpa_m"] == 0.0
    assert r["level"] == LEVEL["warning"]


@pytest.mark.usefixtures("exact_plane")
@pytest.mark.parametrize("engine", ["grid", "cells"])
def test_low_descending_traffic_predicted_below_sea_level(engine: str) -> None:
    """Forty aircraft at 0 to 600 m in a 30 km square, a third descending at 15 m/s
    (straight lines below sea level within the look-ahead), through the grid and the
    numpy cells: the all-pairs reference's conflicts, every field.

    Mutants killed: ``_slice_hits`` 75 (the cell layer from ``z + z0``),
    ``cell_candidates`` 53 (from ``z + min z``): where the lowest predicted altitude is
    negative, layers shifted by twice it, cut off at the bottom."""
    rng = np.random.default_rng(44)
    n = 40
    rows: list[Row] = [
        (float(x), float(y), float(z), float(u), float(v), -15.0 if k % 3 == 0 else 0.0)
        for k, (x, y, z, u, v) in enumerate(zip(
            rng.uniform(0, 30_000, n), rng.uniform(0, 30_000, n), rng.uniform(0, 600, n),
            rng.uniform(-150, 150, n), rng.uniform(-150, 150, n), strict=True))]
    if engine == "grid":
        got = grid(rows)
    else:
        got = grid(rows)  # the reference and the tracks, then the cells on them
        zeros = np.zeros(n)
        tracks = Tracks(np.array([f"a{i}" for i in range(n)]),
                        np.array(["us", "ru"] * (n // 2)), np.full(n, "manned"),
                        zeros, zeros, zeros, zeros, zeros, zeros)
        cells = detect(tracks, ACCORD, engine="cells")
        assert np.array_equal(cells.pairs, got.pairs)
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(cells, field), getattr(got, field))
    assert len(got) > 20


@pytest.mark.usefixtures("exact_plane")
def test_a_loss_beyond_every_levels_time_has_no_level() -> None:
    """With a look-ahead of 400 s, a head-on pair closing at 400 m/s from R + 140 km
    loses separation after 350 s: beyond every level's time (300 s at most), level
    "none" (code 0).

    Mutants killed: ``_pair_values`` 98 (the code starts ``None``), 99 (it starts at 1,
    "preventive")."""
    r = only(grid([(0, 0, 9000, 200.0, 0, 0), (R5 + 140_000.0, 0, 9000, -200.0, 0, 0)],
                  lookahead_s=400.0))
    assert r["t_in_s"] == pytest.approx(350.0, abs=1e-9)
    assert r["level"] == LEVEL["none"]


@pytest.mark.usefixtures("exact_plane")
def test_a_levels_own_vertical_minimum() -> None:
    """An accord whose warning level (60 s) has 3 NM and 500 ft: two still aircraft one
    above the other 800 ft apart are in loss (1000 ft) but not at the warning level
    ("corrective", 120 s); 400 ft apart, "warning". With the default accord (its
    warning level's 1000 ft equal to the pairs' own) the two cases do not differ.

    Mutant killed: ``detect._grid_conflicts`` 37 (the levels' vertical minima always
    ``inf``: the level's 500 ft ignored)."""
    tighter = tuple(dataclasses.replace(lv, minima=Minima(3.0, 500.0))
                    if lv.minima is not None else lv for lv in ACCORD.levels)
    assert [lv.name for lv in tighter] == ["preventive", "corrective", "warning"]
    assert isinstance(tighter[2], AlertLevel) and tighter[2].minima == Minima(3.0, 500.0)
    accord = dataclasses.replace(ACCORD, levels=tighter)
    for feet, level in ((800.0, "corrective"), (400.0, "warning")):
        r = only(grid([(0, 0, 0.0, 0, 0, 0), (0, 0, feet * FT, 0, 0, 0)], accord=accord))
        assert r["t_in_s"] == 0.0 and r["level"] == LEVEL[level]


def test_a_dense_blob_in_a_large_picture_through_the_thread_pools() -> None:
    """2,100 tracks, 470 of them within 2 NM of each other at one level (110,215 pairs,
    every one a loss), the others spread over 2,000 km: the slices' pool (from 2,000
    tracks) and the values' pool (from 100,000 conflicts) run where there are two
    CPUs, and the result is the all-pairs reference's, every field.

    Mutants killed: ``grid_hits`` 217-220 (the values' pool's ``map`` given no function
    or no chunks)."""
    rng = np.random.default_rng(47)
    blob, rest = 470, 1630
    plane = LocalPlane(35.5, 37.5)
    r = 2 * NM * np.sqrt(rng.uniform(0, 1, blob))
    az = rng.uniform(0, 2 * np.pi, blob)
    x = np.concatenate([r * np.sin(az), rng.uniform(-1e6, 1e6, rest)])
    y = np.concatenate([r * np.cos(az), rng.uniform(-1e6, 1e6, rest)])
    lat, lon = plane.inverse(x, y)
    n = blob + rest
    tracks = Tracks(np.array([f"B{i}" for i in range(n)]), rng.choice(["us", "ru"], n),
                    np.full(n, "manned"), lat, lon,
                    np.concatenate([np.full(blob, 30_000.0), rng.uniform(5_000, 45_000, rest)]),
                    rng.uniform(100, 480, n), rng.uniform(0, 360, n), np.zeros(n))
    got = within(120.0, lambda: detect(tracks, ACCORD, engine="grid"))
    want = detect_all_pairs(tracks, ACCORD)
    assert len(want) > 100_000
    assert np.array_equal(got.pairs, want.pairs)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_grid_every_field_against_the_plain_reference(name: str) -> None:
    """The grid on ``test_reference.py``'s pictures (mid latitudes, 600-700 km from the
    centre, the pole, the antimeridian) against the plain per-pair reference, every
    field (``test_reference.py`` runs the default engine, the numpy cells, there).

    Mutants killed: those of the grid's exact test, closest approach and levels that
    change a field on these pictures (the far corners: the scale factor in the
    search's and the levels' radii)."""
    (lat0, lon0), centres, n_each, radius_km = PICTURES[name]
    tracks = cluster_picture(len(name), centres, n_each, radius_km)
    got = within(60.0, lambda: detect(tracks, ACCORD, plane=LocalPlane(lat0, lon0),
                                      engine="grid"))
    want = reference_detect(tracks, ACCORD, lat0, lon0)
    assert len(want) >= 15
    assert_equals_reference(got, want)


def _spread_picture() -> Tracks:
    near = random_picture(300, 11, 40.0, mixed=True)
    far = random_picture(40, 12, 60.0, mixed=True)
    return Tracks(np.concatenate([near.id, np.char.add("F", far.id)]),
                  np.concatenate([near.party, far.party]),
                  np.concatenate([near.aircraft_class, far.aircraft_class]),
                  np.concatenate([near.lat, far.lat + 20.0]),
                  np.concatenate([near.lon, far.lon - 30.0]),
                  np.concatenate([near.alt_ft, far.alt_ft]),
                  np.concatenate([near.gs_kt, far.gs_kt]),
                  np.concatenate([near.trk_deg, far.trk_deg]),
                  np.concatenate([near.vs_fpm, far.vs_fpm]))


def _fast_compact_picture() -> Tracks:
    """Sixty aircraft within 20 km, at 400 to 500 kt in every direction and 3,000 to
    6,000 fpm up or down: the positions at the slices' times spread far wider than the
    picture (the span the cells must cover is mostly the motion's)."""
    rng = np.random.default_rng(45)
    n = 60
    plane = LocalPlane(35.5, 37.5)
    lat, lon = plane.inverse(rng.uniform(-10_000, 10_000, n), rng.uniform(-10_000, 10_000, n))
    return Tracks(np.array([f"C{i}" for i in range(n)]), rng.choice(["us", "ru"], n),
                  np.full(n, "manned"), lat, lon, rng.uniform(20_000, 24_000, n),
                  rng.uniform(400, 500, n), rng.uniform(0, 360, n),
                  rng.uniform(3000, 6000, n) * rng.choice([-1, 1], n))


def _line_picture(axis: str) -> Tracks:
    """Forty aircraft whose motion spans one axis that the picture itself does not: on a
    north-south line 100 km long flying east or west at 480 kt ("x"), on an east-west
    line flying north or south ("y"), or at one level climbing or descending at 6,000
    fpm ("z")."""
    rng = np.random.default_rng(46)
    n = 40
    along = rng.uniform(-50_000, 50_000, n)
    zeros = np.zeros(n)
    gs, vs = np.full(n, 480.0), zeros
    if axis == "x":
        x, y, trk = zeros, along, rng.choice([90.0, 270.0], n)
    elif axis == "y":
        x, y, trk = along, zeros, rng.choice([0.0, 180.0], n)
    else:
        x, y, trk = along, rng.uniform(-50_000, 50_000, n), rng.uniform(0, 360, n)
        gs, vs = np.full(n, 100.0), rng.choice([-6000.0, 6000.0], n)
    lat, lon = LocalPlane(35.5, 37.5).inverse(x, y)
    return Tracks(np.array([f"L{i}" for i in range(n)]), rng.choice(["us", "ru"], n),
                  np.full(n, "manned"), lat, lon, np.full(n, 30_000.0), gs, trk, vs)


@pytest.mark.parametrize(("name", "limit"), [("spread", 2_000), ("fast", 60), ("x", 30),
                                             ("y", 30), ("z", 20), ("z", 120)])
def test_coarse_cells_keep_their_promises(name: str, limit: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture spread over a continent, the cell table limited to 2,000 cells, and a
    compact fast one (whose slices' positions span far more than its own), limited to
    60: every slice's grid (its cells counted as the kernel counts them) has at most
    that many, each at least one search box wide, the coarsening ends (within 60 s
    here, where it takes a second) and nothing is lost against the all-pairs reference
    (``test_detect.py``'s coarse-cell test runs the default engine, the numpy cells,
    since pictures this small no longer load numba).

    Pictures whose motion spans one axis that they do not (limits of 20 to 120 cells)
    hold the estimate to each axis's motion and slack.

    Mutants killed: ``grid_hits``' coarsening (the cell sizes set to 1.5 m or divided by
    1.5, the span scaled by the cell size instead of divided: endless loops or cells
    narrower than a box) and the span estimates that leave out the motion or undercount
    the cells (one axis's motion ``2 / T * v``, ``- 2`` cells in one factor)."""
    tracks = (_spread_picture() if name == "spread" else _fast_compact_picture()
              if name == "fast" else _line_picture(name))
    monkeypatch.setattr(_grid, "_MAX_CELLS", limit)
    seen: list[tuple[int, float, float, float, float]] = []
    kernel = _grid._slice_hits

    def spy(x: np.ndarray, y: np.ndarray, z: np.ndarray, vx: np.ndarray, vy: np.ndarray,
            vz: np.ndarray, *rest: object) -> np.ndarray:
        t_mid, box_h, box_v, cell_h, cell_v = (float(rest[i])  # type: ignore[arg-type]
                                               for i in (6, 9, 10, 11, 12))
        px, py, pz = x + vx * t_mid, y + vy * t_mid, z + vz * t_mid
        cells = ((int((px.max() - px.min()) / cell_h) + 1)
                 * (int((py.max() - py.min()) / cell_h) + 1)
                 * (int((pz.max() - pz.min()) / cell_v) + 1))
        seen.append((cells, cell_h, cell_v, box_h, box_v))
        out: np.ndarray = kernel(x, y, z, vx, vy, vz, *rest)  # type: ignore[arg-type]
        return out

    monkeypatch.setattr(_grid, "_slice_hits", spy)
    got = within(60.0, lambda: detect(tracks, ACCORD, engine="grid"))
    assert seen
    for cells, cell_h, cell_v, box_h, box_v in seen:
        assert cells <= limit
        assert cell_h >= box_h and cell_v >= box_v
    if name in ("spread", "fast"):
        assert max(s[0] for s in seen) > 1  # a grid, not one cell
    want = detect_all_pairs(tracks, ACCORD)
    assert len(want) > 0
    assert np.array_equal(got.pairs, want.pairs)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
