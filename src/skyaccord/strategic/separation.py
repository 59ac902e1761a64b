"""The accord's separation minima as the registry applies them: buffers and minima.

Two volumes conflict when they come closer than the minima for their two aircraft
classes (``Accord.minima``: a horizontal radius in metres, a vertical half-height in
feet; the exact rule is :mod:`skyaccord.strategic.intersect`). A search of the store's
index for what *might* conflict with a volume grows the volume's box by the largest
minima of the accord (:meth:`Separation.search_box`), so that no conflict is missed
whatever the classes; the exact test then applies the minima of each pair
(:meth:`Separation.minima`).
"""

from __future__ import annotations

from skyaccord.protocol import Accord
from skyaccord.store.base import BoxTuple
from skyaccord.strategic.intersect import Box, PlacedVolume

__all__ = ["Separation", "box_tuple"]

#: the horizontal buffer is widened by this factor: the plane's scale factor varies
#: across a buffer (within 1e-4, intersect module doc), so 1 % more never misses
_H_MARGIN = 1.01


def box_tuple(b: Box) -> BoxTuple:
    """``b`` as the store's box tuple ``(xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax)``."""
    return (b.xmin, b.xmax, b.ymin, b.ymax, b.zmin, b.zmax, b.tmin, b.tmax)


class Separation:
    """The minima of ``accord``: the largest ones (for index searches) and each pair's.

    >>> from skyaccord.protocol import default_accord
    >>> s = Separation(default_accord())
    >>> s.minima("manned", "manned")
    (9260.0, 1000.0)
    """

    __slots__ = ("_accord", "_table", "max_h_m", "max_v_ft")

    def __init__(self, accord: Accord) -> None:
        self._accord = accord
        h = [r.minima.horizontal_m for r in accord.separation]
        v = [r.minima.vertical_ft for r in accord.separation]
        #: the largest horizontal minimum, m, and vertical minimum, ft
        self.max_h_m = max(h) if h else 0.0
        self.max_v_ft = max(v) if v else 0.0
        # every pair of the accord's classes, both orders (a table, not a cache: the
        # accord is fixed)
        self._table: dict[tuple[str, str], tuple[float, float]] = {}
        for r in accord.separation:
            a, b = r.classes
            self._table[(a, b)] = self._table[(b, a)] = (r.minima.horizontal_m,
                                                         r.minima.vertical_ft)

    def minima(self, class_a: str, class_b: str) -> tuple[float, float]:
        """(horizontal m, vertical ft) minima between two classes (either order)."""
        m = self._table.get((class_a, class_b))
        if m is None:  # not a pair of this accord: Accord.minima says why
            mm = self._accord.minima(class_a, class_b)
            return (mm.horizontal_m, mm.vertical_ft)
        return m

    def search_box(self, p: PlacedVolume, dt_s: float = 0.0, dz_ft: float = 0.0) -> Box:
        """``p``'s box grown by the largest minima (and by ``dt_s``, ``dz_ft`` more): every
        volume that could conflict with ``p`` (shifted that far) has a box meeting it."""
        return p.box.grow(self.max_h_m * p.k * _H_MARGIN, self.max_v_ft + dz_ft, dt_s)
