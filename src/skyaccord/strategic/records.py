"""The registry's stored forms: what it writes to the store for an intent, and reads back.

Two forms, both written by the registry at the same time (:meth:`~.registry.Registry.submit`):

* the **intent row** (:class:`~skyaccord.store.IntentRow`): index columns and a JSON
  body, the intent as :func:`~.codec.intent_to_dict` writes it plus ``plane``: each
  volume's placement in the theatre plane, ``[cx, cy, r, k]`` for a circle and
  ``[cx, cy, 0, k, vertices]`` for a polygon, so that a reader needs no projection
  (:func:`encode_row`, :func:`decode_row`);
* one **volume record** (``bytes``) per volume of an active intent, which the exact
  check reads without decoding the body (:func:`pack_records`,
  :meth:`RecordReader.unpack`; the store keeps it opaque)::

      offset   0  8 float64 (little-endian): cx, cy, r, k, lower ft, upper ft,
                  start s, end s (the columns of ``intersect.VolumeArrays``)
      offset  64  uint32 volume index, uint32 polygon vertex count n (0: a circle)
      offset  72  n (x, y) float64 pairs: the polygon's plane vertices
      72 + 16 n   the aircraft class, UTF-8

Changing either form changes stored data: a new layout needs a new store schema version
(:data:`skyaccord.store.SCHEMA_VERSION`) and a migration.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import shapely
from shapely.geometry import Polygon as ShapelyPolygon

from skyaccord.geo import LocalPlane
from skyaccord.store.base import IntentRow, VolumeRow
from skyaccord.strategic.cache import Cache
from skyaccord.strategic.codec import intent_from_dict, intent_to_dict, stored_json
from skyaccord.strategic.intersect import Box, PlacedVolume, VolumeArrays, place
from skyaccord.strategic.volumes import Intent, Volume

__all__ = [
    "RecordReader",
    "StoredVolume",
    "decode_row",
    "encode_row",
    "pack_records",
    "record_arrays",
]

#: the fixed head of a volume record: 8 float64 placement columns, index, vertex count
_HEAD = struct.Struct("<8d2I")
#: bytes of the placement columns at the start of a record
_GEOM = 64
#: where the vertex count sits in the head
_NVERT = slice(_HEAD.size - 4, _HEAD.size)


class StoredVolume(NamedTuple):
    """A stored volume as the exact check reads it: its record, unpacked."""

    #: the 64 bytes of placement columns (8 little-endian float64, module doc)
    geom: bytes
    intent_id: str
    party: str
    version: int
    priority: int
    aircraft_class: str
    vol_index: int
    #: the polygon footprint in plane metres, prepared; None for a circle
    shape: ShapelyPolygon | None


def pack_records(intent: Intent, placed: Sequence[PlacedVolume]) -> list[bytes]:
    """The volume records of ``intent`` (module doc), one per placed volume."""
    cls = intent.aircraft_class.encode()
    out = []
    for i, p in enumerate(placed):
        v = p.volume
        coords = b"" if p.shape is None else \
            np.ascontiguousarray(shapely.get_coordinates(p.shape), "<f8").tobytes()
        out.append(_HEAD.pack(p.cx, p.cy, p.r_plane, p.k, v.alt_lower_ft, v.alt_upper_ft,
                              v.time_start, v.time_end, i, len(coords) // 16)
                   + coords + cls)
    return out


class RecordReader:
    """Unpacks volume records: the one reader of the format (module doc).

    Class and party names are interned (``sys.intern``), so that the many records of a
    dense area share one string per name; the reader remembers the names it has seen.
    """

    __slots__ = ("_names",)

    def __init__(self) -> None:
        # record tail bytes (class) or party text -> the interned name
        self._names: Cache[bytes | str, str] = Cache(4096)

    def _name(self, key: bytes | str) -> str:
        name = self._names.get(key)
        if name is None:
            name = sys.intern(key.decode() if isinstance(key, bytes) else key)
            self._names.put(key, name)
        return name

    def unpack(self, row: VolumeRow, record: bytes | None = None) -> StoredVolume:
        """The volume of ``row``, from ``record`` (default: ``row.record``)."""
        rec = row.record if record is None else record
        n = int.from_bytes(rec[_NVERT], "little")
        shape = None
        if n:
            xy = np.frombuffer(rec, "<f8", 2 * n, _HEAD.size).reshape(n, 2)
            shape = ShapelyPolygon(xy)
            shapely.prepare(shape)
        names = self._names
        tail = rec[_HEAD.size + 16 * n:]
        cls = names.get(tail) or self._name(tail)
        party = names.get(row.party) or self._name(row.party)
        return StoredVolume(rec[:_GEOM], row.intent_id, party, row.version, row.priority,
                            cls, row.vol_index, shape)


def record_arrays(vols: Sequence[StoredVolume]) -> VolumeArrays:
    """The placement columns of ``vols`` as :class:`~.intersect.VolumeArrays`."""
    geom = np.frombuffer(b"".join([v.geom for v in vols]), "<f8").reshape(-1, 8)
    shapes = None
    if any(v.shape is not None for v in vols):
        shapes = np.empty(len(vols), dtype=object)
        shapes[:] = [v.shape for v in vols]
    return VolumeArrays(*geom.T, shapes)  # type: ignore[call-arg]


def encode_row(intent: Intent, placed: Sequence[PlacedVolume]) -> IntentRow:
    """The stored row of ``intent``: its JSON body carries the volumes' placement in the
    theatre plane (``plane``), so that readers need no projection."""
    d = intent_to_dict(intent)
    d["plane"] = [[p.cx, p.cy, p.r_plane, p.k] if p.shape is None else
                  [p.cx, p.cy, 0.0, p.k, shapely.get_coordinates(p.shape).tolist()]
                  for p in placed]
    body = stored_json(d)  # stored bytes: codec.stored_json says why not canonical_json
    return IntentRow(intent.id, intent.party, str(intent.state), intent.version,
                     intent.priority, body)


def _placed_from(v: Volume, pv: list[Any]) -> PlacedVolume:
    """A placed volume from its stored plane data (see :func:`encode_row`)."""
    cx, cy, r, k = float(pv[0]), float(pv[1]), float(pv[2]), float(pv[3])
    if len(pv) == 4:
        box = Box(cx - r, cx + r, cy - r, cy + r, v.alt_lower_ft, v.alt_upper_ft,
                  v.time_start, v.time_end)
        return PlacedVolume(v, None, cx, cy, r, k, box)
    shape = ShapelyPolygon(pv[4])
    shapely.prepare(shape)
    xmin, ymin, xmax, ymax = shape.bounds
    return PlacedVolume(v, shape, cx, cy, 0.0, k, Box(xmin, xmax, ymin, ymax, v.alt_lower_ft,
                                                      v.alt_upper_ft, v.time_start,
                                                      v.time_end))


def decode_row(row: IntentRow, plane: LocalPlane) -> tuple[Intent, list[PlacedVolume]]:
    """The intent of ``row`` and its placed volumes (projected into ``plane`` when the
    body carries no placement)."""
    d = json.loads(row.body)
    intent = intent_from_dict(d)
    stored = d.get("plane")
    if stored is None or len(stored) != len(intent.volumes):
        return intent, [place(v, plane) for v in intent.volumes]
    return intent, [_placed_from(v, pv) for v, pv in zip(intent.volumes, stored, strict=True)]
