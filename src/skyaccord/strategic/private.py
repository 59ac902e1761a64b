"""Private overlap: two parties learn which space–time cells their plans share, and
nothing else about each other's plans.

Cells. Each party discretises its own intents into cells ``h3 cell × altitude layer ×
time slot`` (:class:`CellGrid`: H3 resolution 7, about 5.2 km² a cell; 1,000 ft layers;
15 min slots by default). Before discretising, each side grows its footprints by half
the accord's horizontal minimum and its bands by half the vertical minimum for the class
pair (:func:`intent_cells`). Two volumes closer than the minima then have grown shapes
that meet, so they share at least one cell: **every conflict of the exact test shows up
as a shared cell** (the overlap is a superset of the conflicts: cells are coarse, and
touching cell boundaries may count; tested against :mod:`.intersect`).

Protocol. Elliptic-curve Diffie–Hellman PSI from OpenMined's ``openmined-psi``
(Apache-2.0; P-256, the protocol of Meadows 1986 / Huberman et al. 1999, as used in
Google's Private Join and Compute). We chose the maintained library over our own ECDH
code on PyNaCl's ed25519 group operations: it is reviewed, constant-time, and gives the
same guarantees. One run has a *client* and a *server*:

1. the client sends its cells, each hashed to the curve and raised to its secret key;
2. the server raises those to its own key and returns them (``response``), with its own
   cells raised to its key (``setup``, raw, no Bloom filter, so no false positives);
3. the client strips its key and matches: it learns which of its cells are shared.

What each side learns, in the semi-honest model (each follows the protocol):

* the client learns the intersection and the *number* of the server's cells;
* the server learns the *number* of the client's cells, and nothing of the intersection.

:func:`private_overlap` runs the protocol twice with the roles swapped, so that both
parties learn the shared cells and each other's cell counts; nothing else about the
cells that are not shared. What it does not protect against: a party that lies about its
cells (e.g. claims the whole theatre to map the other's plans) — the count it reveals
shows that, and a node should refuse a peer whose count exceeds what the registry's
limits allow (``max_cells``). The shared cells themselves are, by design, revealed.

Examples
--------
>>> a = {"872830828ffffff|10|100", "872830829ffffff|10|100"}
>>> b = {"872830829ffffff|10|100", "87283082affffff|10|100"}
>>> ra, rb = private_overlap(a, b)
>>> sorted(ra) == sorted(rb) == ["872830829ffffff|10|100"]
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import h3
import numpy as np
import private_set_intersection.python as psi
import shapely
from shapely.geometry import Point
from shapely.geometry import Polygon as ShapelyPolygon

from skyaccord.errors import IntentError
from skyaccord.geo import LocalPlane
from skyaccord.strategic.volumes import Circle, Intent, Polygon, Volume

__all__ = [
    "CellGrid",
    "OverlapSide",
    "OverlapSummary",
    "intent_cells",
    "private_overlap",
    "summarize_cells",
    "volume_cells",
]


@dataclass(frozen=True)
class CellGrid:
    """The shared discretisation: both parties must agree on it."""

    h3_resolution: int = 7
    layer_ft: float = 1000.0
    slot_s: float = 900.0
    #: refuse to discretise (or to answer a peer with) more cells than this
    max_cells: int = 2_000_000


def _grown_ring(fp: Circle | Polygon, grow_m: float) -> list[tuple[float, float]]:
    """(lat, lng) ring of a footprint grown by ``grow_m`` (outward, never inscribed)."""
    if isinstance(fp, Circle):
        plane = LocalPlane(fp.lat_deg, fp.lon_deg)
        segs = 16
        # a polygon around the circle: vertices at r / cos(pi / (4 segs)) circumscribe it
        r = (fp.radius_m + grow_m) / math.cos(math.pi / (4 * segs))
        shape = Point(0.0, 0.0).buffer(r, quad_segs=segs)
    else:
        ring = np.asarray(fp.ring(), dtype=np.float64)
        lat0, lon0 = float(ring[:, 1].mean()), float(ring[:, 0].mean())
        plane = LocalPlane(lat0, lon0)
        x, y = plane.forward(ring[:, 1], ring[:, 0])
        shape = ShapelyPolygon(np.column_stack([x, y]))
        if grow_m > 0:
            shape = shape.buffer(grow_m * 1.001, quad_segs=16, join_style="round")
    px, py = shapely.get_coordinates(shape.exterior).T
    lat, lon = plane.inverse(px, py)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))[:-1]


def volume_cells(volume: Volume, grid: CellGrid, grow_m: float = 0.0,
                 grow_ft: float = 0.0) -> set[str]:
    """Cells ``"h3|layer|slot"`` that the volume, grown by ``grow_m`` / ``grow_ft``, meets."""
    poly = h3.LatLngPoly(_grown_ring(volume.footprint, grow_m))
    hexes = h3.h3shape_to_cells_experimental(poly, grid.h3_resolution, "overlap")
    lo = math.floor((volume.alt_lower_ft - grow_ft) / grid.layer_ft)
    hi = math.floor((volume.alt_upper_ft + grow_ft) / grid.layer_ft)
    t0 = math.floor(volume.time_start / grid.slot_s)
    t1 = math.ceil(volume.time_end / grid.slot_s) - 1
    n = len(hexes) * (hi - lo + 1) * (t1 - t0 + 1)
    if n > grid.max_cells:
        raise IntentError(f"volume covers {n} cells, over the limit of {grid.max_cells}; "
                          "use a coarser CellGrid")
    return {f"{c}|{z}|{t}" for c in hexes for z in range(lo, hi + 1)
            for t in range(t0, t1 + 1)}


def intent_cells(intents: Iterable[Intent], grid: CellGrid, horizontal_m: float,
                 vertical_ft: float) -> set[str]:
    """A party's cells: its intents' volumes grown by half the minima (module doc)."""
    out: set[str] = set()
    for it in intents:
        for v in it.volumes:
            out |= volume_cells(v, grid, horizontal_m / 2.0, vertical_ft / 2.0)
            if len(out) > grid.max_cells:
                raise IntentError(f"intents cover over {grid.max_cells} cells")
    return out


class OverlapSide:
    """One party's end of the protocol; it plays client in one run, server in the other.

    Messages are bytes (serialised protocol buffers) to carry over any channel, such as
    the line.
    """

    def __init__(self, cells: Iterable[str], *, max_peer_cells: int = 2_000_000) -> None:
        self.items = sorted(set(cells))
        self.max_peer_cells = max_peer_cells
        self._client = psi.client.CreateWithNewKey(True)
        self._server = psi.server.CreateWithNewKey(True)

    def request(self) -> bytes:
        """As client: the request to send to the peer."""
        return bytes(self._client.CreateRequest(self.items).SerializeToString())

    def answer(self, request: bytes) -> tuple[bytes, bytes]:
        """As server: ``(setup, response)`` for a peer's request."""
        req = psi.Request()
        try:
            req.ParseFromString(request)
        except Exception as exc:  # protobuf's DecodeError
            raise IntentError(f"private overlap: malformed request: {exc}") from None
        n = len(req.encrypted_elements)
        if n > self.max_peer_cells:
            raise IntentError(f"private overlap: the peer sent {n} cells, over the limit "
                              f"of {self.max_peer_cells}")
        setup = self._server.CreateSetupMessage(0.0, n, self.items, psi.DataStructure.RAW)
        resp = self._server.ProcessRequest(req)
        return bytes(setup.SerializeToString()), bytes(resp.SerializeToString())

    def finish(self, setup: bytes, response: bytes) -> set[str]:
        """As client: the shared cells, from the peer's answer to our request."""
        s, r = psi.ServerSetup(), psi.Response()
        try:
            s.ParseFromString(setup)
            r.ParseFromString(response)
            idx = self._client.GetIntersection(s, r)
        except Exception as exc:
            raise IntentError(f"private overlap: malformed answer: {exc}") from None
        return {self.items[i] for i in idx}


def private_overlap(cells_a: Iterable[str], cells_b: Iterable[str]
                    ) -> tuple[set[str], set[str]]:
    """Run both directions between two in-process sides; what A and B each learn."""
    a, b = OverlapSide(cells_a), OverlapSide(cells_b)
    learnt_a = a.finish(*b.answer(a.request()))
    learnt_b = b.finish(*a.answer(b.request()))
    return learnt_a, learnt_b


@dataclass(frozen=True)
class OverlapSummary:
    """What a set of shared cells covers, for people: how many cells and H3 hexagons,
    their area, where, at which altitudes and when."""

    cells: int
    hexes: int
    area_km2: float
    lat_range: tuple[float, float]
    lon_range: tuple[float, float]
    alt_ft: tuple[float, float]
    time_s: tuple[float, float]


def summarize_cells(cells: Iterable[str], grid: CellGrid) -> OverlapSummary | None:
    """The extent of ``cells`` (keys ``"h3|layer|slot"`` of ``grid``): None when empty.

    The area is the sum of the distinct hexagons' areas (each counted once, whatever
    the layers and slots it appears in); the latitude and longitude ranges span the
    hexagons' centres; the altitude band and time window are whole layers and slots.

    >>> g = CellGrid()
    >>> s = summarize_cells({"872830828ffffff|10|100", "872830828ffffff|11|101"}, g)
    >>> (s.cells, s.hexes, s.alt_ft, s.time_s)
    (2, 1, (10000.0, 12000.0), (90000.0, 91800.0))
    """
    hexes: set[str] = set()
    layers: list[int] = []
    slots: list[int] = []
    n = 0
    for key in cells:
        hex_id, layer, slot = key.split("|")
        hexes.add(hex_id)
        layers.append(int(layer))
        slots.append(int(slot))
        n += 1
    if not n:
        return None
    centres = np.array([h3.cell_to_latlng(h) for h in hexes])
    area = float(sum(h3.cell_area(h, unit="km^2") for h in hexes))
    return OverlapSummary(
        n, len(hexes), area,
        (float(centres[:, 0].min()), float(centres[:, 0].max())),
        (float(centres[:, 1].min()), float(centres[:, 1].max())),
        (min(layers) * grid.layer_ft, (max(layers) + 1) * grid.layer_ft),
        (min(slots) * grid.slot_s, (max(slots) + 1) * grid.slot_s))
