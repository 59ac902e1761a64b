"""Incursions with the zones' outlines cached per geometry and plane, and the ``airspace
check`` CSV written from the arrays: the same results as the former way (each call
projecting every zone, all tracks tested against every zone; the CSV row by row from
records), on random tracks and zones, and still the brute force's."""

from __future__ import annotations

import gc
import io
import random
from typing import NamedTuple

import numpy as np
import pytest
import shapely

from skyaccord.airspace import Zone, crossing, predict_incursions, project_geometry, theatre_borders
from skyaccord.airspace.cli import write_incursion_columns
from skyaccord.airspace.warning import incursion_records, write_incursions_csv
from skyaccord.geo import LocalPlane, picture_centre
from skyaccord.protocol import default_accord
from skyaccord.tracks import Tracks
from tests.airspace.test_crossing import brute_force_inside, predicted_inside, random_tracks

ACCORD = default_accord()


class _FormerOutline(NamedTuple):
    """The outline as it was built before the cache: the whole geometry projected, its
    rings' edges, their tree; a box that keeps every track."""

    polygon: shapely.Geometry
    edges: np.ndarray
    tree: shapely.STRtree
    bounds: tuple[float, float, float, float]

    @classmethod
    def of(cls, zone: Zone, plane: LocalPlane) -> _FormerOutline:
        proj = project_geometry(zone.geometry, plane)
        shapely.prepare(proj)
        rings = []
        for poly in shapely.get_parts(proj):
            rings.append(np.asarray(poly.exterior.coords))
            rings.extend(np.asarray(r.coords) for r in poly.interiors)
        edges = np.vstack([np.hstack([r[:-1], r[1:]]) for r in rings])
        tree = shapely.STRtree(np.asarray(shapely.linestrings(
            np.stack([edges[:, :2], edges[:, 2:]], axis=1))))
        inf = float("inf")
        return cls(proj, edges, tree, (-inf, -inf, inf, inf))


def former(monkeypatch: pytest.MonkeyPatch, *args: object, **kwargs: object) -> object:
    with monkeypatch.context() as m:
        m.setattr(crossing, "_Outline", _FormerOutline)
        return predict_incursions(*args, **kwargs)  # type: ignore[arg-type]


def assert_same(a: crossing.Incursions, b: crossing.Incursions) -> None:
    assert len(a) == len(b)
    for name in crossing.Incursions._fields:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def random_zones(rng: np.random.Generator) -> list[Zone]:
    """Borders, and boxes, a ring with a hole and circles near them, with bands and
    windows."""
    zones = [z for z in theatre_borders() if z.owner in ("tr", "sy", "iq")]
    for k in range(4):
        lat, lon = 36.6 + rng.uniform(-1, 1), 38.5 + rng.uniform(-1, 1)
        size = rng.uniform(0.05, 0.6)
        shell = shapely.box(lon - size, lat - size, lon + size, lat + size)
        geom = (shell.difference(shapely.box(lon - size / 3, lat - size / 3, lon + size / 3,
                                             lat + size / 3)) if k % 2 else
                shapely.Point(lon, lat).buffer(size, quad_segs=16))
        zones.append(Zone(f"z{k}", ["sy", "tr", "us"][k % 3], "restricted", geom,
                          lower_ft=float(rng.choice([0.0, 15_000.0])),
                          upper_ft=float(rng.choice([np.inf, 30_000.0])),
                          active_from_s=float(rng.choice([-np.inf, 60.0]))))
    return zones


@pytest.mark.parametrize("seed", range(6))
def test_cached_outlines_give_the_former_results(monkeypatch: pytest.MonkeyPatch,
                                                 seed: int) -> None:
    rng = np.random.default_rng(seed)
    zones = random_zones(rng)
    tracks = random_tracks(rng, 400, 36.6, 38.5, 2.5)
    expected = former(monkeypatch, tracks, zones, ACCORD)
    assert len(expected) > 20  # type: ignore[arg-type]
    for _ in range(2):  # built, then from the cache
        assert_same(predict_incursions(tracks, zones, ACCORD), expected)  # type: ignore[arg-type]
    # A node's ticks: a plane moving a little each time, planes seen before, no depth.
    centre = picture_centre(tracks.lat, tracks.lon)
    for k in (0, 1, 2, 1, 0, 3, 4, 5, 6, 0):
        plane = LocalPlane(centre[0] + 0.01 * k, centre[1] - 0.01 * k)
        part = tracks.take(np.sort(rng.choice(len(tracks), 150, replace=False)))
        got = predict_incursions(part, zones, ACCORD, plane=plane, depth=False, t_now_s=30.0)
        assert_same(got, former(monkeypatch, part, zones, ACCORD, plane=plane,  # type: ignore[arg-type]
                                depth=False, t_now_s=30.0))


def test_still_the_brute_force_on_borders_and_holes() -> None:
    rng = np.random.default_rng(11)
    zones = random_zones(rng)
    tracks = random_tracks(rng, 250, 36.6, 38.5, 1.5)
    horizon = 300.0
    predict_incursions(tracks, zones, ACCORD, lookahead_s=horizon)  # fill the cache
    times = np.arange(0.0, horizon, 0.5)
    for zk, zone in enumerate(zones):
        inc = predict_incursions(tracks, [zone], ACCORD, lookahead_s=horizon, depth=False)
        truth = brute_force_inside(tracks, zone, times)
        truth &= (tracks.party != zone.owner)[:, None]
        got = predicted_inside(inc, len(tracks), times, horizon)
        # Samples within a crossing's rounding of the boundary may go either way.
        assert (got != truth).mean() < 1e-3, zk


def test_the_cache_follows_the_geometry_objects() -> None:
    lat, lon = 36.0, 38.0
    zone = Zone("box", "sy", "restricted", shapely.box(lon - 0.2, lat - 0.2, lon + 0.2,
                                                     lat + 0.2))
    plane = LocalPlane(lat, lon)
    first = crossing._Outline.of(zone, plane)
    assert crossing._Outline.of(zone, plane) is first  # the same plane: kept
    assert crossing._Outline.of(zone, LocalPlane(lat, lon + 1e-9)) is not first
    same_shape = Zone("box2", "sy", "restricted", shapely.box(lon - 0.2, lat - 0.2,
                                                              lon + 0.2, lat + 0.2))
    assert crossing._Outline.of(same_shape, plane) is not first  # another object
    for k in range(crossing._PLANES_KEPT + 1):  # older planes are dropped
        crossing._Outline.of(zone, LocalPlane(lat + k, lon))
    assert crossing._Outline.of(zone, plane) is not first
    key = id(zone.geometry)
    assert key in crossing._SHAPES
    del zone, first
    gc.collect()
    assert key not in crossing._SHAPES  # nothing kept for a geometry that is gone


def _odd_names(rng: random.Random, n: int) -> list[str]:
    marks = ["", ",", '"', " ", "\n", "é"]
    return [f"{rng.choice(marks)}T{k}{rng.choice(marks)}" for k in range(n)]


@pytest.mark.parametrize("depth", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_csv_from_the_arrays_is_the_records_csv(seed: int, depth: bool) -> None:
    rng = np.random.default_rng(seed)
    names = random.Random(seed)
    zones = random_zones(rng)
    zones = [Zone(f"{z.id},{k}" if k % 2 else z.id, z.owner, z.kind, z.geometry,
                  z.lower_ft, z.upper_ft, z.active_from_s, z.active_until_s)
             for k, z in enumerate(zones)]
    base = random_tracks(rng, 300, 36.6, 38.5, 2.0)
    tracks = base.with_columns(id=np.array(_odd_names(names, len(base))))
    inc = predict_incursions(tracks, zones, ACCORD, depth=depth)
    assert len(inc) > 20 and np.isnan(inc.t_exit_s).any() and (inc.t_exit_s > 0).any()
    expected, got = io.StringIO(), io.StringIO()
    write_incursions_csv(incursion_records(tracks, zones, inc), expected)
    write_incursion_columns(tracks, zones, inc, got)
    assert got.getvalue() == expected.getvalue()
    # And no incursion at all: the header alone.
    empty, header = io.StringIO(), io.StringIO()
    none = crossing.Incursions.empty()
    write_incursion_columns(Tracks.empty(), zones, none, empty)
    write_incursions_csv([], header)
    assert empty.getvalue() == header.getvalue()
