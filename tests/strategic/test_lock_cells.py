"""Lock keys and search boxes to the exact value: which cells, how many before the global
lock, and how far a search box reaches (the grid's numbers worked by hand)."""

from __future__ import annotations

import itertools
import random
import zlib

import pytest

from skyaccord.protocol import default_accord
from skyaccord.strategic.intersect import Box, place, theatre_plane
from skyaccord.strategic.locks import CELL, INTENT, LOCK_CELL_M, MAX_LOCK_CELLS, REQUEST, lock_keys
from skyaccord.strategic.separation import Separation
from skyaccord.strategic.volumes import Circle, Volume

T0 = 1_750_000_000.0
INT32 = range(-(2**31), 2**31)


def key(ns: int, text: str) -> tuple[int, int]:
    """The documented key: crc32 of the text, less 2**31 (a signed 32-bit integer)."""
    return ns, zlib.crc32(text.encode()) - 2**31


def box(x0: float, x1: float, y0: float, y1: float) -> Box:
    return Box(x0, x1, y0, y1, 0, 1000, T0, T0 + 60)


def test_cells_by_hand() -> None:
    """A box from x = 49 km to 101 km and y = -1 km to 1 km covers cells x 0, 1, 2 and
    y -1, 0 (cell ix spans [50 ix, 50 (ix + 1)) km); keys are exactly those, then the
    intent's, then the request's.

    Mutations caught: ``+ 2**31`` for ``- 2**31`` in ``_h32`` (keys leave int32); cell
    indices off by one at either end; the request key left out."""
    keys, exclusive = lock_keys([box(49_000, 101_000, -1_000, 1_000)], "i1", "r1")
    assert not exclusive
    cells = {key(CELL, f"{ix},{iy}") for ix in (0, 1, 2) for iy in (-1, 0)}
    assert set(keys[:-2]) == cells and len(keys) == 8
    assert keys[-2:] == [key(INTENT, "i1"), key(REQUEST, "r1")]
    assert all(a in INT32 and b in INT32 for a, b in keys)
    # an edge exactly on a cell boundary belongs to the cell above it
    keys, _ = lock_keys([box(0.0, LOCK_CELL_M, 0.0, 0.0)], "i1", None)
    assert set(keys[:-1]) == {key(CELL, "0,0"), key(CELL, "1,0")}
    assert keys[-1] == key(INTENT, "i1")


def test_global_lock_beyond_max_cells_counted_over_all_boxes() -> None:
    """16 x 16 cells (256, the most) stay cells; one more cell, in the same box or in a
    second box, takes the global lock.

    Mutations caught: ``>`` made ``>=``; the area computed with ``/`` or ``+`` for
    ``*``, or with ``iy1 + iy0`` for ``iy1 - iy0``; the cells of earlier boxes not
    counted."""
    assert MAX_LOCK_CELLS == 16 * 16
    side = 16 * LOCK_CELL_M - 1.0
    full = box(0.0, side, 0.0, side)
    keys, exclusive = lock_keys([full], "i", None)
    assert not exclusive and len(keys) == 256 + 1
    # the same square anywhere: its cell count, not its cell indices, decides
    far = 10 * LOCK_CELL_M
    keys, exclusive = lock_keys([box(-far, side - far, far, side + far)], "i", None)
    assert not exclusive and len(keys) == 256 + 1
    assert lock_keys([box(0.0, side + 2.0, 0.0, side)], "i", None) == ([], True)
    assert lock_keys([box(0.0, side, 0.0, side + 2.0)], "i", None) == ([], True)
    assert lock_keys([full, box(-2.0, -1.0, 0.0, 1.0)], "i", None) == ([], True)
    assert lock_keys([box(-2.0, -1.0, 0.0, 1.0), full], "i", None) == ([], True)
    # 17 x 1 cells plus 1 x 17: 34, well under
    keys, exclusive = lock_keys([box(0.0, 16.5 * LOCK_CELL_M, 0.0, 1.0),
                                 box(0.0, 1.0, 0.0, 16.5 * LOCK_CELL_M)], "i", None)
    assert not exclusive and len(keys) == 17 + 16 + 1


def test_search_box_grows_by_the_largest_minima_and_no_more() -> None:
    """The search box is the volume's box grown by the largest horizontal minimum times
    the local scale factor and 1 %, the largest vertical minimum, and nothing in time
    unless asked.

    Mutations caught: a default ``dt_s`` of 1; the 1 % margin or the scale factor left
    out; the vertical growth of ``dz_ft`` dropped."""
    sep = Separation(default_accord())
    p = place(Volume(Circle(37.0, 41.0, 2_000), 5_000, 6_000, T0, T0 + 600),
              theatre_plane(35.0, 38.5))
    assert p.k > 1.0 + 1e-5  # 300 km from the centre: the scale factor shows
    g = sep.search_box(p)
    dxy = sep.max_h_m * p.k * 1.01
    assert (g.xmin, g.xmax, g.ymin, g.ymax) == pytest.approx(
        (p.box.xmin - dxy, p.box.xmax + dxy, p.box.ymin - dxy, p.box.ymax + dxy), abs=1e-6)
    assert (g.zmin, g.zmax, g.tmin, g.tmax) == (p.box.zmin - sep.max_v_ft,
                                                p.box.zmax + sep.max_v_ft, T0, T0 + 600)
    g2 = sep.search_box(p, dt_s=30.0, dz_ft=200.0)
    assert (g2.zmin, g2.zmax, g2.tmin, g2.tmax) == (p.box.zmin - sep.max_v_ft - 200.0,
                                                    p.box.zmax + sep.max_v_ft + 200.0,
                                                    T0 - 30.0, T0 + 630.0)


def test_box_union_and_intersects_against_intervals() -> None:
    rng = random.Random(5)
    for _ in range(300):
        a, b = (Box(*itertools.chain.from_iterable(
            sorted((rng.randint(0, 10), rng.randint(0, 10))) for _ in range(4)))
            for _ in range(2))
        ia = [(a.xmin, a.xmax), (a.ymin, a.ymax), (a.zmin, a.zmax), (a.tmin, a.tmax)]
        ib = [(b.xmin, b.xmax), (b.ymin, b.ymax), (b.zmin, b.zmax), (b.tmin, b.tmax)]
        meet = all(max(p[0], q[0]) <= min(p[1], q[1]) for p, q in zip(ia, ib, strict=True))
        assert a.intersects(b) is meet and b.intersects(a) is meet
        u = a.union(b)
        assert u == Box(*itertools.chain.from_iterable(
            (min(p[0], q[0]), max(p[1], q[1])) for p, q in zip(ia, ib, strict=True)))
    assert box(0, 1, 2, 3).grow() == box(0, 1, 2, 3)
    g = box(0, 1, 2, 3).grow(1.0, 2.0, 3.0)
    assert g == Box(-1.0, 2.0, 1.0, 4.0, -2.0, 1002.0, T0 - 3.0, T0 + 63.0)
