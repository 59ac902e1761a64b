"""Detection at the edges the mutation run found untested: pairs at the edge of the pair
search's boxes and slices, the exact test in small chunks, the all-pairs reference in
small blocks on a plane of its own, the empty result's types, near-parallel pairs, and
the records' ids and units. Each test names the mutations it kills (mutmut names in
tests/mutation/README.md's detect group); the expected values come from the plain
per-pair reference (:mod:`._reference`) or are worked by hand."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pyproj
import pytest

from skyaccord.geo import FT, NM, LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical import conflict_records, detect, detect_all_pairs
from skyaccord.tactical.detect import PairConflicts, candidate_pairs
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

from ._reference import KT_MS, reference_detect

GEOD = pyproj.Geod(ellps="WGS84")
ACCORD = default_accord()
LAT0, LON0 = 35.5, 37.5
R_M = 5 * 1852.0  # the default accord's manned-manned horizontal minimum
FLOAT_FIELDS = ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m")


def _agrees_with_reference(got: PairConflicts, tracks: Tracks, lat0: float = LAT0,
                           lon0: float = LON0) -> int:
    want = reference_detect(tracks, ACCORD, lat0, lon0)
    assert [tuple(p) for p in got.pairs.T.tolist()] == [(w.i, w.j) for w in want]
    for field in FLOAT_FIELDS:
        np.testing.assert_allclose(getattr(got, field), [getattr(w, field) for w in want],
                                   rtol=1e-7, atol=1e-3, err_msg=field)
    assert got.level.tolist() == [w.level for w in want]
    return len(want)


def _pair_rows(k: int, centre: tuple[float, float], trk1: float, trk2: float, gs_kt: float,
               tcpa_s: float, miss_m: float, alt_ft: float, plane: LocalPlane,
               ) -> list[tuple[str, str, str, float, float, float, float, float, float]]:
    """Two aircraft that pass ``miss_m`` apart at ``tcpa_s`` near ``centre`` (plane
    metres), placed by flying back along their WGS84 geodesics (pyproj) from points
    ``miss_m`` apart across their relative course there."""
    lat, lon = plane.inverse(np.array([centre[0]]), np.array([centre[1]]))
    mlat, mlon = float(lat[0]), float(lon[0])
    v = [np.array([math.sin(math.radians(t)), math.cos(math.radians(t))]) for t in (trk1, trk2)]
    rel = v[1] - v[0]
    side = math.degrees(math.atan2(-rel[1], rel[0]))  # bearing across the relative course
    rows = []
    for name, trk, sign in ((f"A{k:02d}", trk1, -1.0), (f"B{k:02d}", trk2, 1.0)):
        plon, plat = mlon, mlat
        if miss_m:
            plon, plat, _ = GEOD.fwd(mlon, mlat, side if sign > 0 else side + 180, miss_m / 2)
        alon, alat, back = GEOD.fwd(plon, plat, trk + 180.0, gs_kt * KT_MS * tcpa_s)
        rows.append((name, "us" if name[0] == "A" else "ru", "manned", float(alat),
                     float(alon), alt_ft, gs_kt, float(back) % 360.0, 0.0))
    return rows


def edge_picture() -> Tracks:
    """Pairs far apart from each other (100 km grid), each passing just inside or just
    outside the 5 NM minimum at times spread over the look-ahead, at 600 kt (the fastest
    speed, which sets the boxes); some exactly head-on along a plane axis, losing
    separation only in the last seconds of the look-ahead (their distance at a slice's
    middle is then as large as the boxes allow)."""
    plane = LocalPlane(LAT0, LON0)
    look = ACCORD.lookahead_s
    rows = []
    rng = np.random.default_rng(20)
    k = 0
    for m in range(24):
        centre = (-550e3 + 100e3 * (m % 12), -100e3 + 200e3 * (m // 12))
        tcpa = look * (m + 0.5) / 24
        miss = R_M * rng.uniform(0.85, 1.05)
        trk1 = float(rng.uniform(0, 360))
        trk2 = trk1 + float(rng.uniform(120, 240))
        rows += _pair_rows(k, centre, trk1, trk2 % 360, 600.0, tcpa, miss, 20000.0, plane)
        k += 1
    # exact head-on along the x and y axes: loss begins 1, 3 or 6 s before the
    # look-ahead ends (closing at 1,200 kt the loss lasts 30 s, so it is still on)
    for m, before in enumerate((1.0, 3.0, 6.0)):
        for axis, (t1, t2) in enumerate(((90.0, 270.0), (0.0, 180.0))):
            t_in = look - before
            tcpa = t_in + R_M / (2 * 600.0 * KT_MS)
            centre = (-550e3 + 100e3 * (m + 3 * axis), 300e3)
            rows += _pair_rows(k, centre, t1, t2, 600.0, tcpa, 0.0, 24000.0, plane)
            k += 1
    return Tracks.from_rows(rows)


@pytest.mark.parametrize("engine", ["grid", "kdtree"])
def test_pairs_at_the_edges_of_the_search_boxes(engine: str) -> None:
    """Mutations killed: the slices' middle times shifted back by one slice
    (``t_mid = (2 * s - 1) * tau``, candidate_pairs__mutmut_20: the end of the
    look-ahead is searched too early), and any narrowing of the search boxes that
    the other tests missed. Every pair and field against the plain reference."""
    tracks = edge_picture()
    got = detect(tracks, ACCORD, plane=LocalPlane(LAT0, LON0), engine=engine)
    n = _agrees_with_reference(got, tracks)
    # both sides of the boundary, and the late head-on pairs, are in the picture
    assert 12 <= n < 30
    late = got.t_in_s > ACCORD.lookahead_s - 10
    assert int(late.sum()) >= 6


def test_a_low_pair_symmetric_about_the_centre_is_found_in_a_later_slice() -> None:
    """A head-on pair at 300 ft, mirror images about the plane's centre, first a
    candidate in a later slice. Kills the k-d tree search's "was a candidate in the slice
    before" test computed with ``+`` for ``-`` (candidate_pairs__mutmut_62): the sums of
    the two aircraft's coordinates are then small on every axis and the pair is dropped
    from every slice."""
    plane = LocalPlane(LAT0, LON0)
    rows = _pair_rows(0, (0.0, 0.0), 90.0, 270.0, 480.0, 250.0, 0.0, 300.0, plane)
    tracks = Tracks.from_rows(rows)
    for engine in ("kdtree", "grid"):
        got = detect(tracks, ACCORD, plane=plane, engine=engine)
        assert _agrees_with_reference(got, tracks) == 1
        # 250 s to closest approach at 960 kt closing: the 5 NM are lost 18.75 s before
        assert float(got.t_in_s[0]) == pytest.approx(250.0 - R_M / (960 * KT_MS), abs=0.05)


def test_two_aircraft_are_enough_for_the_kdtree_search() -> None:
    """Kills ``n <= 2`` and ``n < 3`` for ``n < 2`` in candidate_pairs (mutmut_2, _3):
    a picture of two aircraft head-on has one conflict with either engine."""
    plane = LocalPlane(LAT0, LON0)
    tracks = Tracks.from_rows(_pair_rows(0, (0.0, 0.0), 0.0, 180.0, 480.0, 75.0, 0.0,
                                         30000.0, plane))
    for engine in ("grid", "kdtree"):
        assert len(detect(tracks, ACCORD, plane=plane, engine=engine)) == 1


def test_candidate_pairs_uses_the_slices_asked_for() -> None:
    """Kills ``n_slices`` ignored in candidate_pairs (``_boxes(..., None)``, mutmut_8):
    one candidate array per slice asked for, every conflicting pair among them once."""
    tracks = edge_picture()
    state = plane_state(tracks, ACCORD, LocalPlane(LAT0, LON0))
    want = {(w.i, w.j) for w in reference_detect(tracks, ACCORD, LAT0, LON0)}
    for k in (1, 3, 7):
        slices = candidate_pairs(state, ACCORD, ACCORD.lookahead_s, n_slices=k)
        assert len(slices) == k
        found = [tuple(sorted(p)) for s in slices for p in s.tolist()]
        assert len(found) == len(set(found))  # each pair in one slice only
        assert want <= set(found)


def test_exact_test_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_CHUNK`` made 7 so that the exact test runs in many chunks: the same conflicts
    as the reference. Kills ``range(0, _CHUNK)`` for ``range(0, len(i), _CHUNK)``
    (_hits__mutmut_14: only the first chunks' pairs tested; with the real _CHUNK of
    2**20 it only ran out of time)."""
    tracks = edge_picture()
    # the module (the package exports a function of the same name)
    monkeypatch.setattr(importlib.import_module("skyaccord.tactical.detect"), "_CHUNK", 7)
    for engine in ("grid", "kdtree"):
        got = detect(tracks, ACCORD, plane=LocalPlane(LAT0, LON0), engine=engine)
        assert _agrees_with_reference(got, tracks) > 14


def test_all_pairs_reference_in_small_blocks_on_its_own_plane() -> None:
    """detect_all_pairs in blocks of 7 rows, on a plane centred 300 km from the picture.
    Kills its plane ignored (``plane_state(tracks, accord, None)`` and with the argument
    left out, mutmut_10, _13: the radii are then scaled at another point) and
    ``range(0, block)`` for ``range(0, n, block)`` (mutmut_20: rows past 2 blocks never
    tested)."""
    rng = np.random.default_rng(7)
    n = 60
    plane = LocalPlane(LAT0, LON0)
    lat, lon = plane.inverse(rng.uniform(-40e3, 40e3, n), rng.uniform(-40e3, 40e3, n))
    tracks = Tracks(np.array([f"T{i:02d}" for i in range(n)]),
                    rng.choice(["us", "ru"], n), np.full(n, "manned"), lat, lon,
                    rng.choice([20000.0, 20500.0, 21000.0], n), rng.uniform(300, 500, n),
                    rng.uniform(0, 360, n), np.zeros(n))
    lat0, lon0 = LAT0 + 2.7, LON0
    got = detect_all_pairs(tracks, ACCORD, plane=LocalPlane(lat0, lon0), block=7)
    assert _agrees_with_reference(got, tracks, lat0, lon0) >= 15
    # rows in every block take part
    assert int(got.pairs[0].max()) >= 14


def _assert_empty(c: PairConflicts) -> None:
    assert len(c) == 0
    assert c.pairs.shape == (2, 0) and c.pairs.dtype == np.intp
    for field in FLOAT_FIELDS:
        value = getattr(c, field)
        assert value.shape == (0,) and value.dtype == np.float64, field
    assert c.level.shape == (0,) and c.level.dtype == np.int8
    assert c.same_party.shape == (0,) and c.same_party.dtype == np.bool_


def test_every_field_of_an_empty_result_is_typed() -> None:
    """Every field of an empty result has length 0 and the dtype of a full one. Kills the
    15 mutants of ``PairConflicts.empty`` (a field ``None``, of length 1, or without its
    dtype)."""
    far = Tracks.from_rows([("a", "us", "manned", 35.0, 36.0, 30000, 480, 0, 0),
                            ("b", "ru", "manned", 38.0, 36.0, 30000, 480, 0, 0)])
    for tracks in (Tracks.empty(), far.take([0]), far):
        for engine in ("grid", "kdtree"):
            _assert_empty(detect(tracks, ACCORD, engine=engine))
        _assert_empty(detect_all_pairs(tracks, ACCORD))
    _assert_empty(PairConflicts.empty())
    full = detect(edge_picture(), ACCORD)
    for field in (*FLOAT_FIELDS, "pairs", "level", "same_party"):
        assert getattr(full, field).dtype == getattr(PairConflicts.empty(), field).dtype


def test_closest_approach_of_slowly_closing_and_coincident_pairs() -> None:
    """tcpa when the relative plane speed is tiny. Overtaking at 1 kt (0.51 m/s: ``a``
    is 0.26 m²/s²) from 2 NM behind, 500 ft below: closest approach after 2 NM / 1 kt =
    2 h, clipped to the look-ahead — kills a threshold of ``1.000000000001`` for
    ``1e-12`` (_conflicts__mutmut_68: tcpa 0). Two aircraft at the same point and
    velocity, 500 ft apart (``a`` exactly 0): tcpa 0, dcpa 0, dz 500 ft for ever — kills
    the ``0.0`` fallback made ``1.0`` (mutmut_74)."""
    tracks = Tracks.from_rows([
        ("lead", "us", "manned", 35.0, 36.0, 30000, 400, 0, 0),
        ("chase", "ru", "manned", 35.0 - 2 * NM / 110_950.0, 36.0, 29500, 401, 0, 0),
        ("twin1", "us", "manned", 35.0, 38.0, 30000, 400, 45, 0),
        ("twin2", "tr", "manned", 35.0, 38.0, 30500, 400, 45, 0),
    ])
    got = detect(tracks, ACCORD)
    assert got.pairs.T.tolist() == [[0, 1], [2, 3]]
    assert got.tcpa_s.tolist() == [ACCORD.lookahead_s, 0.0]
    assert got.dcpa_m[1] == 0.0 and got.dz_m[1] == pytest.approx(500 * FT, abs=1e-9)
    assert got.t_in_s[1] == 0.0 and math.isinf(got.t_out_s[1])
    # after the look-ahead the chaser has closed 300 s * 1 kt = 154 m of the 3,704 m
    assert got.dcpa_m[0] == pytest.approx(2 * NM - 300 * KT_MS, abs=1.0)


def test_records_order_ids_and_convert_units_by_hand() -> None:
    """A head-on pair whose ids sort the other way from their rows ("zulu" is row 0),
    500 ft apart: id1 is "alpha", dz 500 ft, dcpa 0 NM. Kills either id made
    ``str(None)`` (conflict_records__mutmut_6, _8), the ids never swapped or swapped
    when equal (mutmut_12, _13: with ``<=`` only ids equal as strings could tell, and
    ids are unique) and ``dz_m * FT`` for ``/ FT`` (mutmut_38)."""
    plane = LocalPlane(LAT0, LON0)
    rows = _pair_rows(0, (0.0, 0.0), 0.0, 180.0, 480.0, 75.0, 0.0, 30000.0, plane)
    rows[0] = ("zulu", *rows[0][1:])
    rows[1] = ("alpha", *rows[1][1:5], 30500.0, *rows[1][6:])
    tracks = Tracks.from_rows(rows)
    (rec,) = conflict_records(tracks, detect(tracks, ACCORD, plane=plane), ACCORD)
    assert (rec.id1, rec.id2) == ("alpha", "zulu")
    assert rec.dz_ft == pytest.approx(500.0, abs=1e-6)
    assert rec.dcpa_nm == pytest.approx(0.0, abs=1e-6)
    assert rec.tcpa_s == pytest.approx(75.0, abs=1e-3)
    assert not rec.same_party


def test_conflicts_csv_bytes_by_hand() -> None:
    """The CSV ``skyaccord detect`` writes, byte for byte: Unix line ends, the header,
    three decimals of seconds, four of NM, two of feet, ``inf`` for a loss that never
    ends. Kills the line terminator left to csv's default ``\\r\\n`` and ``inf`` written
    otherwise (write_conflicts_csv mutmut_5, 9, 12)."""
    import io

    from skyaccord.tactical.detect import ConflictRecord, write_conflicts_csv

    out = io.StringIO()
    write_conflicts_csv([ConflictRecord("a", "b", 0.0, math.inf, 0.0, 0.0, 500.0, "none",
                                        False),
                         ConflictRecord("c", "d", 56.25, 93.75, 75.0, 1.23456, 0.0,
                                        "corrective", True)], out)
    assert out.getvalue() == (
        "id1,id2,t_in_s,t_out_s,tcpa_s,dcpa_nm,dz_ft,level\n"
        "a,b,0.000,inf,0.000,0.0000,500.00,none\n"
        "c,d,56.250,93.750,75.000,1.2346,0.00,corrective\n")
