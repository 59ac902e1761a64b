"""Incursion prediction at the edges the airspace mutation run found untested (mutmut
names in tests/mutation/README.md's airspace group): the empty result's fields, tracks
that start exactly on a zone's boundary or reach it exactly at the look-ahead, zero-length
and sub-metre edges, and the depth's building blocks against shapely: the distance from
points to segments, and the time along a path equidistant from two segments.

The expected values are worked by hand or measured by shapely (``shapely.distance``),
which shares no code with the module's closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from skyaccord.airspace import Incursions, Zone, predict_incursions
from skyaccord.airspace.crossing import _segment_dist2, _tie
from skyaccord.geo import LocalPlane
from skyaccord.protocol import default_accord
from skyaccord.tactical.kinematics import plane_state
from skyaccord.tracks import Tracks

ACCORD = default_accord()
PLANE = LocalPlane(35.0, 38.0)


def plane_zone(ring: np.ndarray, zone_id: str = "z") -> Zone:
    """A zone from a ring given in PLANE metres."""
    lat, lon = PLANE.inverse(ring[:, 0], ring[:, 1])
    return Zone(zone_id, "sy", "restricted", shapely.Polygon(np.column_stack([lon, lat])))


def plane_tracks(rows: list[tuple[float, float, float, float]], party: str = "ru",
                 alt_ft: float = 20000.0, vs_fpm: float = 0.0) -> Tracks:
    """Tracks at plane (x, y) m flying plane bearing ``trk`` at ``speed`` m/s."""
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    lat, lon = PLANE.inverse(x, y)
    conv = np.degrees(PLANE.factors(lat, lon).convergence_rad)
    n = len(rows)
    return Tracks(np.array([f"t{k}" for k in range(n)]), np.array([party] * n),
                  np.array(["manned"] * n), lat, lon, np.full(n, alt_ft),
                  np.array([r[3] for r in rows]) * 3600 / 1852,
                  (np.array([r[2] for r in rows]) + conv) % 360, np.full(n, vs_fpm))


def seg_distance(seg: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from points to segments by shapely (rows of ``seg``: ax, ay, bx, by)."""
    lines = shapely.linestrings(np.stack([seg[..., :2], seg[..., 2:]], axis=-2))
    return np.asarray(shapely.distance(lines, shapely.points(x, y)))


def test_every_field_of_an_empty_result_is_typed() -> None:
    """No tracks: every field an empty array, indices of ``np.intp``, the rest float.

    Mutations killed: ``Incursions.empty`` with ``np.zeros(1)`` for the floats
    (mutmut_3), the indices without their dtype (6, 8), a field ``None`` (11, 13-18)."""
    tracks = Tracks.from_rows([])
    zone = plane_zone(np.array([[0.0, 0.0], [1e4, 0.0], [1e4, 1e4]]))
    for inc in (predict_incursions(tracks, [zone], ACCORD), Incursions.empty()):
        assert len(inc) == 0
        for name in Incursions._fields:
            field = getattr(inc, name)
            assert isinstance(field, np.ndarray) and field.shape == (0,), name
            kind = np.intp if name in ("track", "zone") else np.float64
            assert field.dtype == kind, name
        assert inc.inside_now.shape == (0,) and inc.duration_s.shape == (0,)


def test_on_the_boundary_now_and_at_the_look_ahead() -> None:
    """A 20 km square (plane metres) and tracks at 200 m/s:

    - on its west edge now, flying east (in): inside now, out after 100 s, 10 km deep;
    - on its west edge now, flying west (out): no incursion;
    - 12 km west of it flying east with a 60 s look-ahead: the edge is reached exactly
      at 60 s, which is not within the look-ahead ``[0, 60)``: no incursion; with 61 s,
      in at 60 s, not out, as deep as 200 m;
    - inside, reaching the east edge exactly at the look-ahead: the exit is not seen
      (nan) and the track is as deep as it gets, 10 km at the centre.

    Written for the crossing times' boundaries (``_crossings``' ``t_cross > 0`` and
    ``< horizon``) and the pieces' (``_inside_pieces``, the incursions' ``lo <
    horizon``, an exit at or past the horizon as nan)."""
    zone = plane_zone(np.array([[0.0, -1e4], [2e4, -1e4], [2e4, 1e4], [0.0, 1e4]]))
    tracks = plane_tracks([(0.0, 0.0, 90.0, 200.0), (0.0, 0.0, 270.0, 200.0),
                           (-1.2e4, 5e3, 90.0, 200.0), (1e4, 0.0, 90.0, 50.0)])
    s = plane_state(tracks, ACCORD, PLANE)
    # (the plane's scale factor near its centre is 1 + 2e-6: plane times are that off)
    inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=200.0, plane=PLANE)
    assert inc.track.tolist() == [0, 2, 3]
    assert inc.t_entry_s[0] == 0.0 and inc.t_entry_s[2] == 0.0
    assert inc.t_exit_s[0] == pytest.approx(100.0, rel=1e-5)
    assert inc.depth_m[0] == pytest.approx(1e4, rel=1e-5)
    assert inc.t_entry_s[1] == pytest.approx(60.0, rel=1e-5)
    assert inc.t_exit_s[1] == pytest.approx(160.0, rel=1e-5)
    assert inc.t_exit_s[2] == pytest.approx(200.0, rel=1e-5)
    # the look-ahead ending where track 2 reaches the edge (a hair before: a crossing
    # exactly at it is a matter of rounding), or just as track 3 leaves
    t_edge = 1.2e4 / float(np.hypot(s.vx[2], s.vy[2]))
    t_exit = 1e4 / float(np.hypot(s.vx[3], s.vy[3]))
    at_edge = predict_incursions(tracks, [zone], ACCORD, lookahead_s=t_edge * (1 - 1e-9),
                                 plane=PLANE)
    assert at_edge.track.tolist() == [0, 3]
    assert math.isnan(at_edge.t_exit_s[1])
    at_exit = predict_incursions(tracks, [zone], ACCORD, lookahead_s=t_exit * (1 - 1e-9),
                                 plane=PLANE)
    assert at_exit.track.tolist() == [0, 2, 3]
    assert not math.isnan(at_exit.t_exit_s[1]) and math.isnan(at_exit.t_exit_s[2])
    assert at_exit.depth_m[2] == pytest.approx(1e4, rel=1e-5)
    past = predict_incursions(tracks, [zone], ACCORD, lookahead_s=t_exit * (1 + 1e-9),
                              plane=PLANE)
    assert past.t_exit_s[2] == pytest.approx(t_exit, rel=1e-12)
    later = predict_incursions(tracks, [zone], ACCORD, lookahead_s=t_edge + 1.0, plane=PLANE)
    assert later.track.tolist() == [0, 2, 3]
    assert later.t_entry_s[1] == pytest.approx(t_edge, abs=1e-6)
    assert math.isnan(later.t_exit_s[1])
    assert later.depth_m[1] == pytest.approx(200.0, abs=1e-3)  # 1 s at 200 m/s


def test_zero_length_and_sub_metre_edges() -> None:
    """A square whose outline repeats a vertex (a zero-length edge) and has a 0.4 m
    step in its north edge: the distance to a segment of no length is the distance to
    its point, and a 0.4 m edge is a segment, not a point.

    Mutations killed: ``_segment_dist2``'s ``ww > 0`` made ``>= 0`` (mutmut_43: 0/0,
    nan) or ``> 1.0`` (44: a 0.4 m edge taken for its first point), the
    degenerate foot ``None`` (39), and ``np.errstate`` without ``invalid`` (14, 16:
    the warning 0/0 raises under the suite's warning filter)."""
    seg = np.array([[0.0, 0.0, 0.0, 0.0], [100.0, 50.0, 100.0, 50.4],
                    [10.0, 10.0, 30.0, 10.0]])
    x = np.array([3.0, 100.3, 20.0, -4.0, 100.0])
    y = np.array([4.0, 50.2, 13.0, 7.0, 51.0])
    got = _segment_dist2(seg[:, None, :], x[None, :], y[None, :])
    want = seg_distance(seg[:, None, :], x[None, :], y[None, :]) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # through predict_incursions: the same square with and without the extra vertices
    plain = np.array([[0.0, -1e4], [2e4, -1e4], [2e4, 1e4], [0.0, 1e4]])
    fancy = np.array([[0.0, -1e4], [2e4, -1e4], [2e4, -1e4], [2e4, 1e4], [1e4, 1e4],
                      [1e4, 1e4 + 0.4], [0.0, 1e4 + 0.4]])
    tracks = plane_tracks([(-5e3, 9e3, 90.0, 200.0), (-5e3, 0.0, 90.0, 200.0),
                           (1e4, 2e4, 180.0, 200.0)])
    a = predict_incursions(tracks, [plane_zone(plain)], ACCORD, plane=PLANE)
    b = predict_incursions(tracks, [plane_zone(fancy)], ACCORD, plane=PLANE)
    assert a.track.tolist() == b.track.tolist() == [0, 1, 2]
    np.testing.assert_allclose(b.t_entry_s, a.t_entry_s, atol=0.01)
    s = plane_state(tracks, ACCORD, PLANE)
    # track 0 flies 1 km under the north edge: 1 km deep there (1.0004 km west of the
    # step), track 2 crosses the step's corner going south
    assert b.depth_m[0] * s.scale[0] == pytest.approx(1000.0 + 0.4, abs=1e-3)
    assert b.depth_m[1] * s.scale[1] == pytest.approx(1e4, abs=1e-3)


def _bracketed_cases(rng: np.random.Generator, n: int, axis_aligned: bool
                     ) -> tuple[np.ndarray, ...]:
    """Random segment pairs and paths with times ``a < b``, the path nearer ``sa`` at
    ``a`` and nearer ``sb`` at ``b`` (by shapely, on a 1 s grid); axis-aligned ones too,
    where the foot of the perpendicular does not move (a path at right angles to a
    segment)."""
    m = 8 * n
    if axis_aligned:
        c = rng.integers(-10, 10, (m, 6)).astype(float) * 1e3
        sa = np.column_stack([c[:, 0], c[:, 1], c[:, 0], c[:, 1] + np.abs(c[:, 2]) + 1e3])
        sb = np.column_stack([c[:, 3], c[:, 4], c[:, 3] + np.abs(c[:, 5]) + 1e3, c[:, 4]])
        p0 = np.column_stack([np.full(m, -2e4), rng.integers(-10, 10, m) * 1e3])
        v = np.column_stack([np.full(m, 200.0), np.zeros(m)])
    else:
        sa, sb = rng.uniform(-2e4, 2e4, (2, m, 4))
        p0 = rng.uniform(-3e4, 3e4, (m, 2))
        v = rng.normal(0, 150, (m, 2))
    t = np.arange(301.0)
    x, y = p0[:, :1] + v[:, :1] * t, p0[:, 1:] + v[:, 1:] * t
    g = seg_distance(sa[:, None, :], x, y) - seg_distance(sb[:, None, :], x, y)
    rows: list[tuple[int, float, float]] = []
    for k in range(m):
        near_a = np.flatnonzero(g[k] < -1.0)
        if not len(near_a):
            continue
        ia = int(rng.choice(near_a))
        after = np.flatnonzero(g[k, ia:] > 1.0) + ia
        if not len(after):
            continue
        ib = int(after[0] if rng.random() < 0.5 else rng.choice(after))
        rows.append((k, float(t[ia]), float(t[ib])))
        if len(rows) == n:
            break
    assert len(rows) == n
    idx = np.array([r[0] for r in rows], dtype=int)
    return (sa[idx], sb[idx], p0[idx, 0], p0[idx, 1], v[idx, 0], v[idx, 1],
            np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))


@pytest.mark.parametrize("axis_aligned", [False, True])
def test_tie_is_equidistant_within_its_interval(axis_aligned: bool) -> None:
    """``_tie`` returns a time in ``[a, b]`` where the path is as far from one segment as
    from the other, to 1e-6 m, checked with shapely's distances (which know nothing of
    the piecewise quadratic it solves). A wrong tie still lets the depth converge, but
    in more rounds (up to its limit of 1,000, after which it is no longer exact): no
    depth test sees it.

    Mutations killed: the foot-of-perpendicular breaks computed wrong (``_tie``'s ``wx``
    or ``wy`` from the wrong columns or signs, ``sv``, ``s0``, ``-s0 * sv``, ``+s0 /
    sv``, the second break's terms: mutmut_26-60), the breaks not clipped below, or
    nan where infinite (70, 77), the sign-change piece found with ``[:, :+1]`` (87),
    the piece's width or middle wrong (109-114), the quadratic's coefficients
    (117-124), its roots (148-160), the choice of root (169-173), the flat case
    (174-179), the parameter not clipped to [0, 1] (184, 185, 201), and ``np.errstate``
    without ``divide`` or ``invalid`` where a path is at right angles to a segment
    (44-47)."""
    rng = np.random.default_rng(20 + axis_aligned)
    sa, sb, x0, y0, vx, vy, a, b = _bracketed_cases(rng, 150, axis_aligned)
    t = _tie(sa, sb, x0, y0, vx, vy, a, b)
    assert t.dtype == np.float64 and t.shape == a.shape
    assert np.all((a <= t) & (t <= b))
    x, y = x0 + vx * t, y0 + vy * t
    da, db = seg_distance(sa, x, y), seg_distance(sb, x, y)
    np.testing.assert_allclose(da, db, rtol=0, atol=1e-6)


SQUARE = np.array([[0.0, -1e4], [2e4, -1e4], [2e4, 1e4], [0.0, 1e4]])  # 20 km, plane m


def test_entry_and_exit_points_by_hand() -> None:
    """Entry and exit positions are the track's plane positions at the entry and exit
    times, back on WGS84: a track flying north-east through the square (in across its
    west edge, out across its north edge), and one that does not leave (exit nan).

    Mutations killed: ``_incursions``' entry ``y0 - vy t`` (mutmut_37), exit ``x0 - vx
    t`` or ``y0 - vy t`` (50, 52), ``gone = None`` (54: a position where there is no
    exit) and the exit's ``np.where`` with ``None`` (75-77, 81-83)."""
    speed = 200.0
    tracks = plane_tracks([(-5e3, 0.0, 45.0, speed), (1e4, 0.0, 180.0, 10.0)])
    s = plane_state(tracks, ACCORD, PLANE)
    inc = predict_incursions(tracks, [plane_zone(SQUARE)], ACCORD, plane=PLANE)
    assert inc.track.tolist() == [0, 1]
    # in at x = 0 (5 km flown east and north), out at y = 10 km (x = 5 km)
    for k, t, (x, y) in ((0, inc.t_entry_s[0], (0.0, 5e3)), (0, inc.t_exit_s[0], (5e3, 1e4))):
        assert float(s.x[k] + s.vx[k] * t) == pytest.approx(x, abs=1e-3)
        assert float(s.y[k] + s.vy[k] * t) == pytest.approx(y, abs=1e-3)
    want = PLANE.inverse(np.array([0.0, 5e3]), np.array([5e3, 1e4]))
    np.testing.assert_allclose([inc.entry_lat[0], inc.exit_lat[0]], want[0], atol=1e-8)
    np.testing.assert_allclose([inc.entry_lon[0], inc.exit_lon[0]], want[1], atol=1e-8)
    # inside now and not leaving within 300 s at 10 m/s: entry where it is, exit nan
    assert inc.entry_lat[1] == pytest.approx(float(tracks.lat[1]), abs=1e-9)
    assert inc.entry_lon[1] == pytest.approx(float(tracks.lon[1]), abs=1e-9)
    assert inc.exit_lat.dtype == inc.exit_lon.dtype == np.float64
    assert math.isnan(inc.t_exit_s[1]) and math.isnan(inc.exit_lat[1])
    assert math.isnan(inc.exit_lon[1])


def test_active_windows_near_now_and_the_default_now() -> None:
    """Zones whose active window starts half a second from now (``t_now_s`` defaults to
    0), or ends half a second from now: a track inside both is in the first from 0.5 s
    on, and in the second for its first 0.5 s.

    Mutations killed: ``predict_incursions``' default ``t_now_s = 1.0`` (mutmut_1) and a
    window ending within 1 s taken for none (``w_end > 1``, mutmut_78)."""
    tracks = plane_tracks([(1e4, 0.0, 0.0, 100.0)])
    soon = Zone("soon", "sy", "restricted", plane_zone(SQUARE).geometry, active_from_s=0.5)
    ending = Zone("ending", "sy", "restricted", plane_zone(SQUARE).geometry,
                  active_until_s=0.5)
    inc = predict_incursions(tracks, [soon, ending], ACCORD, plane=PLANE)
    assert inc.zone.tolist() == [0, 1]
    assert inc.t_entry_s.tolist() == [0.5, 0.0]
    assert inc.t_exit_s[0] == pytest.approx(100.0, rel=1e-5)
    assert inc.t_exit_s[1] == 0.5
    later = predict_incursions(tracks, [soon, ending], ACCORD, plane=PLANE, t_now_s=1.0)
    assert later.zone.tolist() == [0] and later.t_entry_s[0] == 0.0


def test_a_zone_nobody_may_enter_does_not_end_the_search() -> None:
    """Zones are checked one by one: one that no track may intrude into (every track is
    of its party) comes first, and the next is still checked. A track of a zone's party
    flying right through it (in and out within the look-ahead) does not intrude into
    it, beside a track of another party that is eligible there.

    Mutations killed: ``continue`` made ``break`` for a zone without eligible tracks
    (``predict_incursions`` mutmut_80), and crossings computed for tracks that are not
    eligible (``eligible | moving``, mutmut_98: the own-party track's two crossings then
    make an incursion of their own)."""
    ru_zone = Zone("ru", "ru", "restricted", plane_zone(SQUARE).geometry)
    other = Zone("other", "sy", "restricted", plane_zone(SQUARE + np.array([0.0, 3e4])).geometry)
    ru = plane_tracks([(-5e3, 3e4, 90.0, 200.0)])
    inc = predict_incursions(ru, [ru_zone, other], ACCORD, plane=PLANE)
    assert inc.zone.tolist() == [1]
    assert inc.t_entry_s[0] == pytest.approx(25.0, rel=1e-5)
    # a us track through the us zone (in at 25 s, out at 125 s) beside a ru track far
    # to its south, which crosses nothing but is eligible there
    us_zone = Zone("us", "us", "restricted", plane_zone(SQUARE).geometry)
    us = plane_tracks([(-5e3, 0.0, 90.0, 200.0)], party="us")
    far = plane_tracks([(-5e3, -5e4, 90.0, 200.0)])
    both = Tracks(np.array(["us", "ru"]), *(np.concatenate([getattr(us, f), getattr(far, f)])
                                            for f in ("party", "aircraft_class", "lat", "lon",
                                                      "alt_ft", "gs_kt", "trk_deg",
                                                      "vs_fpm")))
    assert len(predict_incursions(both, [us_zone], ACCORD, plane=PLANE)) == 0
    assert predict_incursions(both, [us_zone], ACCORD, plane=PLANE,
                              exclude_own=False).track.tolist() == [0]


def test_touching_inside_pieces_are_one_incursion() -> None:
    """``_inside_pieces`` merges inside pieces that touch (a crossing at a vertex seen
    twice, say): two tracks flying east through the 20 km square (in at 25 s, out at
    125 s), each given an extra breakpoint while inside, the second track's at a time
    seen twice; each gets one piece, from its entry to its exit.

    Mutations killed: ``p_track[:+1]`` (mutmut_56: the pieces of any track but the first
    never joined) and ``p_lo[1:] < p_hi[:-1]`` (59: touching pieces not joined)."""
    from skyaccord.airspace.crossing import _inside_pieces, _Outline

    zone = plane_zone(SQUARE)
    tracks = plane_tracks([(-5e3, 0.0, 90.0, 200.0), (-5e3, 5e3, 90.0, 200.0)])
    state = plane_state(tracks, ACCORD, PLANE)
    outline = _Outline.of(zone, PLANE)
    speed = np.hypot(state.vx, state.vy)
    t_in, t_out = 5e3 / speed, 2.5e4 / speed
    ti = np.array([0, 0, 0, 1, 1, 1, 1])
    tc = np.array([t_in[0], 60.0, t_out[0], t_in[1], 70.0, 70.0, t_out[1]])
    track, lo, hi = _inside_pieces(outline, state, np.array([0, 1]), ti, tc, 300.0)
    assert track.tolist() == [0, 1]
    np.testing.assert_allclose(lo, t_in, rtol=1e-12)
    np.testing.assert_allclose(hi, t_out, rtol=1e-12)


def test_leaving_the_outline_before_reaching_the_band() -> None:
    """A track climbing at 2,000 fpm from 9,000 ft crosses a zone whose band starts at
    10,000 ft: through the outline from 25 s to 125 s, in the band only from 30 s on,
    so in from 30 s to 125 s; with the band from 13,000 ft (reached at 120 s) in from
    120 s to 125 s; from 14,000 ft (reached at 150 s, after it left) never in.

    Mutations killed: ``live = (lo < hi) | (lo < horizon)`` (predict_incursions
    mutmut_124: a piece that ends before the band begins kept as an incursion)."""
    tracks = plane_tracks([(-5e3, 0.0, 90.0, 200.0)], alt_ft=9000.0, vs_fpm=2000.0)
    geom = plane_zone(SQUARE).geometry
    zones = [Zone(f"from{f}", "sy", "restricted", geom, lower_ft=f, upper_ft=40000.0)
             for f in (10000.0, 13000.0, 14000.0)]
    inc = predict_incursions(tracks, zones, ACCORD, plane=PLANE)
    assert inc.zone.tolist() == [0, 1]
    np.testing.assert_allclose(inc.t_entry_s, [30.0, 120.0], rtol=1e-5)
    np.testing.assert_allclose(inc.t_exit_s, [125.0, 125.0], rtol=1e-5)


def test_slowly_climbing_track_stays_in_its_band() -> None:
    """A track climbing at 100 fpm (0.5 m/s) inside a zone's 10,000 to 20,000 ft band
    from 15,000 ft stays in the band for 50 minutes: inside now, for the look-ahead.

    Mutation killed: ``_vertical_window``'s ``climbing = vz > 1`` (mutmut_17: a track
    climbing slower than 1 m/s taken for a descending one, whose window is then
    empty)."""
    tracks = plane_tracks([(1e4, 0.0, 0.0, 10.0)], alt_ft=15000.0, vs_fpm=100.0)
    zone = Zone("band", "sy", "restricted", plane_zone(SQUARE).geometry,
                lower_ft=10000.0, upper_ft=20000.0)
    inc = predict_incursions(tracks, [zone], ACCORD, plane=PLANE)
    assert len(inc) == 1 and inc.t_entry_s[0] == 0.0 and math.isnan(inc.t_exit_s[0])


def test_through_a_reflex_vertex_is_one_incursion() -> None:
    """An L-shaped zone (a 20 km square less its north-east quarter) crossed diagonally
    through its reflex corner: inside on both sides of the corner, so one incursion
    from the west edge to the south edge, whatever the corner's crossing times.

    Mutations killed: the joining of touching inside pieces (``_inside_pieces``'
    ``p_track[:+1]``, ``p_lo[1:] < p_hi[:-1]``: mutmut_56, 59)."""
    ell = np.array([[0.0, 0.0], [2e4, 0.0], [2e4, 1e4], [1e4, 1e4], [1e4, 2e4],
                    [0.0, 2e4]])
    # the ownship of the picture's second track flies through the same corner: its
    # pieces must not be joined to the first track's
    tracks = plane_tracks([(-1e3, 2.1e4, 135.0, 200.0), (-1e3, 2.1e4, 135.0, 150.0)])
    inc = predict_incursions(tracks, [plane_zone(ell)], ACCORD, plane=PLANE)
    assert inc.track.tolist() == [0, 1]
    d = math.hypot(1e3, 1e3)  # to the west edge (x = 0, y = 20 km)
    for k, speed in enumerate((200.0, 150.0)):
        assert inc.t_entry_s[k] == pytest.approx(d / speed, rel=1e-5)
        assert inc.t_exit_s[k] == pytest.approx(21 * d / speed, rel=1e-5)


def test_depth_in_many_dented_stars_against_brute_force() -> None:
    """The depth of every incursion of tracks crossing concave stars (5 to 11 points,
    dents up to 70 %, some with a hole) in every direction, against the Lipschitz brute
    force of test_depth.py: more pieces of the distance's envelope per path than the
    hypothesis cases there, so that an interval closed too early shows.

    Written for ``_depth``'s tests of a settled interval (``tol_b`` grown to the whole
    distance, mutmut_59) and of its Lipschitz bound (``fa - fb``, mutmut_70)."""
    from .test_depth import check_against_brute_force

    rng = np.random.default_rng(59)
    for _ in range(6):
        points = int(rng.integers(5, 12))
        k = np.arange(2 * points)
        radius = rng.uniform(8e3, 20e3)
        r = radius * np.where(k % 2 == 0, 1.0, 1.0 - rng.uniform(0.2, 0.7))
        a = k * np.pi / points + rng.uniform(0, np.pi)
        ring = np.column_stack([r * np.sin(a), r * np.cos(a)])
        shell = PLANE.inverse(ring[:, 0], ring[:, 1])
        holes = []
        if rng.random() < 0.5:
            h = 0.15 * radius * np.column_stack([np.sin(a[::2]), np.cos(a[::2])])
            lat, lon = PLANE.inverse(h[:, 0], h[:, 1])
            holes.append(np.column_stack([lon, lat]))
        zone = Zone("star", "sy", "restricted",
                    shapely.Polygon(np.column_stack([shell[1], shell[0]]), holes))
        rows = []
        for _ in range(10):
            b = rng.uniform(0, 2 * np.pi)
            off = rng.uniform(-0.8, 0.8) * radius
            start = -1.3 * radius * np.array([np.sin(b), np.cos(b)])
            side = off * np.array([np.cos(b), -np.sin(b)])
            rows.append((float(start[0] + side[0]), float(start[1] + side[1]),
                         math.degrees(b), float(rng.uniform(150, 300))))
        tracks = plane_tracks(rows)
        inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=300.0, plane=PLANE)
        assert len(inc) >= 8
        check_against_brute_force(tracks, [zone], inc, 300.0, PLANE)
