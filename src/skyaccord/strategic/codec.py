"""Intents to and from JSON: the store's body, GeoJSON intent files, ASTM F3548 JSON.

GeoJSON intent file (the CLI's input): a Feature, or a FeatureCollection whose features
are the volumes of one intent. Properties: ``id``, ``party``, ``alt_lower_ft``,
``alt_upper_ft``, ``time_start``, ``time_end`` (RFC 3339, UTC), optional ``class``,
``priority``, ``version``, ``state`` and ``radius_m`` (required with a Point geometry,
which makes a circle). Intent-level properties (id, party, class, priority, version,
state) may be given on every feature but must then agree.

ASTM F3548-21 OperationalIntent (the InterUSS ``OperationalIntent`` schema): ``reference``
(``id``, ``manager``, ``version``, ``state``, ``ovn``, ...) and ``details`` (``volumes``,
``off_nominal_volumes``, ``priority``). ``manager`` carries the party; altitudes are
metres above the WGS84 ellipsoid (``W84``) there and feet here; F3548 has no aircraft
class, so it travels in the extension field ``skyaccord_class``.

Examples
--------
>>> it = intent_from_geojson({"type": "Feature", "geometry": {"type": "Point",
...     "coordinates": [38.0, 35.0]}, "properties": {"id": "a", "party": "us",
...     "radius_m": 500, "alt_lower_ft": 0, "alt_upper_ft": 1000,
...     "time_start": "2025-01-01T00:00:00Z", "time_end": "2025-01-01T01:00:00Z"}})
>>> it.volumes[0].footprint
Circle(lat_deg=35.0, lon_deg=38.0, radius_m=500.0)
>>> intent_from_f3548(intent_to_f3548(it)) == it
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skyaccord.canonical import canonical_json
from skyaccord.errors import IntentError
from skyaccord.geo import FT
from skyaccord.strategic.volumes import (
    DEFAULT_LIMITS,
    Circle,
    Intent,
    IntentState,
    Polygon,
    Volume,
)
from skyaccord.textfiles import parse_json_text, read_text_file

__all__ = [
    "format_time",
    "intent_from_dict",
    "intent_from_f3548",
    "intent_from_geojson",
    "intent_to_dict",
    "intent_to_f3548",
    "intent_to_geojson",
    "load_intent_file",
    "parse_time",
]


def parse_time(value: object, where: str) -> float:
    """UTC seconds of an RFC 3339 time that names its offset (``Z`` or ``+00:00``)."""
    if not isinstance(value, str):
        raise IntentError(f"{where}: expected an RFC 3339 time string, got {value!r}")
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                    else text)
    except ValueError:
        raise IntentError(f"{where}: {value!r} is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise IntentError(f"{where}: {value!r} has no UTC offset; write e.g. "
                          "2025-01-01T10:00:00Z")
    if dt.utcoffset() != datetime(2000, 1, 1, tzinfo=UTC).utcoffset():
        raise IntentError(f"{where}: {value!r} must be in UTC (Z or +00:00)")
    return dt.timestamp()


def format_time(t: float) -> str:
    """RFC 3339 UTC of UTC seconds (``Z`` suffix, microseconds only when needed)."""
    dt = datetime.fromtimestamp(t, UTC)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# -- the store's JSON body ------------------------------------------------------------

def _fp_to_dict(fp: Circle | Polygon) -> dict[str, Any]:
    if isinstance(fp, Circle):
        return {"circle": [fp.lat_deg, fp.lon_deg, fp.radius_m]}
    return {"polygon": [list(p) for p in fp.lon_lat]}


def intent_to_dict(intent: Intent) -> dict[str, Any]:
    """A JSON-ready dict of ``intent`` (the store's body)."""
    return {
        "id": intent.id, "party": intent.party, "class": intent.aircraft_class,
        "priority": intent.priority, "state": str(intent.state), "version": intent.version,
        "volumes": [
            {**_fp_to_dict(v.footprint), "alt": [v.alt_lower_ft, v.alt_upper_ft],
             "time": [v.time_start, v.time_end]} for v in intent.volumes],
    }


def intent_from_dict(d: Mapping[str, Any]) -> Intent:
    """Inverse of :func:`intent_to_dict`."""
    vols = []
    for v in d["volumes"]:
        fp: Circle | Polygon
        if "circle" in v:
            lat, lon, r = v["circle"]
            fp = Circle(float(lat), float(lon), float(r))
        else:
            fp = Polygon(tuple((float(x), float(y)) for x, y in v["polygon"]))
        vols.append(Volume(fp, float(v["alt"][0]), float(v["alt"][1]),
                           float(v["time"][0]), float(v["time"][1])))
    return Intent(d["id"], d["party"], tuple(vols), d["class"], int(d["priority"]),
                  IntentState(d["state"]), int(d["version"]))


def stored_json(value: Any, *, sort_keys: bool = True) -> str:
    """JSON as the registry stores and hashes it: compact, ``\\uXXXX`` escapes for
    non-ASCII characters, NaN written as ``NaN``; object keys sorted, except where
    ``sort_keys=False`` (displacement bodies, written in insertion order).

    The registry's stored forms (intent bodies, displacement bodies) and its request
    digests (hashes compared with stored ones when a request is retried) were written
    with :func:`json.dumps`'s defaults before :func:`skyaccord.canonical.canonical_json`
    existed, so this keeps those bytes exactly: canonical JSON with ``ensure_ascii`` and
    ``allow_nan`` on. Writing them as canonical JSON's default (UTF-8, no NaN) would
    change stored bytes, and a retry across an upgrade would no longer match its digest.

    >>> print(stored_json({"b": "é", "a": 1.0}))
    {"a":1.0,"b":"\\u00e9"}
    >>> stored_json({"b": 1, "a": 2}, sort_keys=False)
    '{"b":1,"a":2}'
    """
    if sort_keys:
        return canonical_json(value, ensure_ascii=True, allow_nan=True)
    return json.dumps(value, separators=(",", ":"))


def dumps(intent: Intent) -> str:
    """The stored JSON of an intent (:func:`stored_json`: sorted keys, no spaces)."""
    return stored_json(intent_to_dict(intent))


# -- GeoJSON ----------------------------------------------------------------------------

_INTENT_KEYS = ("id", "party", "class", "priority", "version", "state")
_KNOWN = {*_INTENT_KEYS, "alt_lower_ft", "alt_upper_ft", "time_start", "time_end",
          "radius_m"}


def _number(props: Mapping[str, Any], key: str, where: str) -> float:
    if key not in props:
        raise IntentError(f"{where}: missing property {key!r}")
    v = props[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise IntentError(f"{where}: property {key!r} must be a finite number, got {v!r}")
    return float(v)


def _lonlat(p: object, where: str) -> tuple[float, float]:
    if not isinstance(p, list | tuple) or len(p) < 2 or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in p[:2]):
        raise IntentError(f"{where}: a position must be [lon, lat] numbers, got {p!r}")
    return float(p[0]), float(p[1])


#: The largest intent file read: 1,000 volumes of 1,000 vertices at ~40 bytes a position.
MAX_INTENT_FILE_BYTES = 48 * 1024 * 1024


def _check_vertex_count(n: int, where: str) -> None:
    """Refuse a polygon over the vertex limit before reading its positions one by one."""
    if n > DEFAULT_LIMITS.max_vertices:
        raise IntentError(f"{where}: polygon has {n} vertices, over the limit of "
                          f"{DEFAULT_LIMITS.max_vertices}")


def _volume_from_feature(f: Any, where: str) -> tuple[Volume, dict[str, Any]]:
    if not isinstance(f, Mapping) or f.get("type") != "Feature":
        raise IntentError(f"{where}: expected a GeoJSON Feature")
    props = f.get("properties")
    if not isinstance(props, Mapping):
        raise IntentError(f"{where}: the Feature has no properties object")
    unknown = sorted(set(props) - _KNOWN)
    if unknown:
        raise IntentError(f"{where}: unknown properties {unknown}; known: {sorted(_KNOWN)}")
    geom = f.get("geometry")
    if not isinstance(geom, Mapping):
        raise IntentError(f"{where}: the Feature has no geometry")
    fp: Circle | Polygon
    if geom.get("type") == "Point":
        lon, lat = _lonlat(geom.get("coordinates"), f"{where}.geometry.coordinates")
        fp = Circle(lat, lon, _number(props, "radius_m", f"{where}.properties"))
    elif geom.get("type") == "Polygon":
        rings = geom.get("coordinates")
        if not isinstance(rings, list) or not rings:
            raise IntentError(f"{where}.geometry.coordinates: expected a list of rings")
        if len(rings) > 1:
            raise IntentError(f"{where}.geometry: polygons with holes are not supported")
        ring = rings[0]
        if not isinstance(ring, list):
            raise IntentError(f"{where}.geometry.coordinates[0]: expected a ring")
        _check_vertex_count(len(ring) - 1, f"{where}.geometry")
        points = [_lonlat(p, f"{where}.geometry.coordinates[0][{i}]")
                  for i, p in enumerate(ring)]
        if len(points) < 4 or points[0] != points[-1]:
            # RFC 7946 §3.1.6: a linear ring has four or more positions, the first and
            # the last the same; an open ring is a mistake we do not guess at
            raise IntentError(f"{where}.geometry.coordinates[0]: a polygon ring must be "
                              "closed (its last position equal to its first, RFC 7946), "
                              "with at least 4 positions")
        fp = Polygon(tuple(points))
        if "radius_m" in props:
            raise IntentError(f"{where}.properties: radius_m only goes with a Point")
    else:
        raise IntentError(f"{where}.geometry: type must be Point (with radius_m) or "
                          f"Polygon, got {geom.get('type')!r}")
    p = f"{where}.properties"
    vol = Volume(fp, _number(props, "alt_lower_ft", p), _number(props, "alt_upper_ft", p),
                 parse_time(props.get("time_start"), f"{p}.time_start"),
                 parse_time(props.get("time_end"), f"{p}.time_end"))
    return vol, {k: props[k] for k in _INTENT_KEYS if k in props}


def intent_from_geojson(doc: Any, source: str = "<geojson>") -> Intent:
    """The intent described by a GeoJSON Feature or FeatureCollection (module doc)."""
    if not isinstance(doc, Mapping):
        raise IntentError(f"{source}: expected a GeoJSON object")
    feats: Any
    if doc.get("type") == "Feature":
        feats = [doc]
        wheres = [source]
    elif doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list) or not feats:
            raise IntentError(f"{source}: the FeatureCollection has no features")
        wheres = [f"{source}: features[{i}]" for i in range(len(feats))]
    else:
        raise IntentError(f"{source}: type must be Feature or FeatureCollection, "
                          f"got {doc.get('type')!r}")
    if len(feats) > DEFAULT_LIMITS.max_volumes:
        raise IntentError(f"{source}: {len(feats)} features, over the limit of "
                          f"{DEFAULT_LIMITS.max_volumes} volumes")
    vols: list[Volume] = []
    meta: dict[str, Any] = {}
    for f, where in zip(feats, wheres, strict=True):
        vol, m = _volume_from_feature(f, where)
        for k, v in m.items():
            if k in meta and meta[k] != v:
                raise IntentError(f"{where}.properties.{k}: {v!r} differs from "
                                  f"{meta[k]!r} given on an earlier feature")
            meta[k] = v
        vols.append(vol)
    for k in ("id", "party"):
        if not isinstance(meta.get(k), str):
            raise IntentError(f"{source}: property {k!r} (a string) is required")
    cls = meta.get("class", "manned")
    prio = meta.get("priority", 0)
    version = meta.get("version", 0)
    if not isinstance(cls, str):
        raise IntentError(f"{source}: property 'class' must be a string")
    for k, v in (("priority", prio), ("version", version)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise IntentError(f"{source}: property {k!r} must be an integer, got {v!r}")
    try:
        state = IntentState(meta.get("state", "accepted"))
    except ValueError:
        raise IntentError(f"{source}: property 'state' must be one of "
                          f"{[s.value for s in IntentState]}") from None
    return Intent(meta["id"], meta["party"], tuple(vols), cls, prio, state, version)


def intent_to_geojson(intent: Intent) -> dict[str, Any]:
    """A FeatureCollection, one Feature per volume (the inverse of the file format)."""
    feats = []
    for v in intent.volumes:
        props: dict[str, Any] = {
            "id": intent.id, "party": intent.party, "class": intent.aircraft_class,
            "priority": intent.priority, "version": intent.version,
            "state": str(intent.state), "alt_lower_ft": v.alt_lower_ft,
            "alt_upper_ft": v.alt_upper_ft, "time_start": format_time(v.time_start),
            "time_end": format_time(v.time_end)}
        fp = v.footprint
        if isinstance(fp, Circle):
            geom: dict[str, Any] = {"type": "Point", "coordinates": [fp.lon_deg, fp.lat_deg]}
            props["radius_m"] = fp.radius_m
        else:
            ring = [list(p) for p in fp.ring()]
            geom = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def load_intent_file(path: Path) -> Intent:
    """Read a GeoJSON intent file, or an F3548 OperationalIntent JSON file."""
    doc = parse_json_text(read_text_file(path, "intent", IntentError,
                                         max_bytes=MAX_INTENT_FILE_BYTES),
                          str(path), IntentError)
    if isinstance(doc, Mapping) and "reference" in doc and "details" in doc:
        return intent_from_f3548(doc, str(path))
    return intent_from_geojson(doc, str(path))


# -- ASTM F3548-21 ----------------------------------------------------------------------

_F3548_STATES = {IntentState.ACCEPTED: "Accepted", IntentState.ACTIVATED: "Activated",
                 IntentState.NONCONFORMING: "Nonconforming",
                 IntentState.CONTINGENT: "Contingent", IntentState.ENDED: "Ended"}


def _f_time(t: float) -> dict[str, str]:
    return {"value": format_time(t), "format": "RFC3339"}


def _f_alt(ft: float) -> dict[str, Any]:
    return {"value": ft * FT, "reference": "W84", "units": "M"}


def intent_to_f3548(intent: Intent) -> dict[str, Any]:
    """An ASTM F3548-21 ``OperationalIntent`` (reference and details) of ``intent``."""
    vols = []
    for v in intent.volumes:
        fp = v.footprint
        if isinstance(fp, Circle):
            shape: dict[str, Any] = {"outline_circle": {
                "center": {"lat": fp.lat_deg, "lng": fp.lon_deg},
                "radius": {"value": fp.radius_m, "units": "M"}}}
        else:
            shape = {"outline_polygon": {"vertices": [
                {"lat": lat, "lng": lon} for lon, lat in fp.ring()]}}
        vols.append({"volume": {**shape, "altitude_lower": _f_alt(v.alt_lower_ft),
                                "altitude_upper": _f_alt(v.alt_upper_ft)},
                     "time_start": _f_time(v.time_start), "time_end": _f_time(v.time_end)})
    start = min(v.time_start for v in intent.volumes)
    end = max(v.time_end for v in intent.volumes)
    return {
        "reference": {"id": intent.id, "manager": intent.party, "version": intent.version,
                      "state": _F3548_STATES[intent.state], "ovn": "",
                      "time_start": _f_time(start), "time_end": _f_time(end),
                      "uss_availability": "Unknown", "uss_base_url": "",
                      "subscription_id": ""},
        "details": {"volumes": vols, "off_nominal_volumes": [],
                    "priority": intent.priority, "skyaccord_class": intent.aircraft_class},
    }


def _get(d: Any, path: str, where: str) -> Any:
    cur = d
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise IntentError(f"{where}: missing {path!r}")
        cur = cur[part]
    return cur


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise IntentError(f"{where}: expected a list, got {value!r:.40}")
    return list(value)


def _f_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value):
        raise IntentError(f"{where}: expected a finite number, got {value!r:.40}")
    return float(value)


def _alt_ft(d: Any, where: str) -> float:
    units = d.get("units", "M") if isinstance(d, Mapping) else None
    ref = d.get("reference", "W84") if isinstance(d, Mapping) else None
    if units != "M" or ref != "W84":
        raise IntentError(f"{where}: altitude must be in units M above reference W84, got "
                          f"{units!r} / {ref!r}")
    value = _get(d, "value", where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntentError(f"{where}.value: expected a number")
    return round(float(value) / FT, 6)


def intent_from_f3548(doc: Any, source: str = "<f3548>") -> Intent:
    """The intent of an ASTM F3548-21 ``OperationalIntent`` JSON object."""
    ref = _get(doc, "reference", source)
    det = _get(doc, "details", source)
    raw = _list(_get(det, "volumes", f"{source}.details"), f"{source}.details.volumes")
    raw += _list(det.get("off_nominal_volumes") or [], f"{source}.details.off_nominal_volumes")
    if len(raw) > DEFAULT_LIMITS.max_volumes:
        raise IntentError(f"{source}: {len(raw)} volumes, over the limit of "
                          f"{DEFAULT_LIMITS.max_volumes}")
    vols: list[Volume] = []
    for i, v4 in enumerate(raw):
        w = f"{source}.details.volumes[{i}]"
        v3 = _get(v4, "volume", w)
        if not isinstance(v3, Mapping):
            raise IntentError(f"{w}.volume: expected an object (Volume3D), got {v3!r:.40}")
        fp: Circle | Polygon
        if v3.get("outline_circle"):
            c = v3["outline_circle"]
            r = _get(c, "radius", f"{w}.volume.outline_circle")
            if not isinstance(r, Mapping) or r.get("units", "M") != "M":
                raise IntentError(f"{w}.volume.outline_circle.radius: units must be M")
            fp = Circle(_f_number(_get(c, "center.lat", w), f"{w}.outline_circle.center.lat"),
                        _f_number(_get(c, "center.lng", w), f"{w}.outline_circle.center.lng"),
                        _f_number(_get(r, "value", w), f"{w}.outline_circle.radius.value"))
        elif v3.get("outline_polygon"):
            verts = _list(_get(v3["outline_polygon"], "vertices",
                               f"{w}.volume.outline_polygon"),
                          f"{w}.volume.outline_polygon.vertices")
            _check_vertex_count(len(verts), f"{w}.volume.outline_polygon")
            fp = Polygon(tuple(
                (_f_number(_get(p, "lng", f"{w}.vertices[{k}]"), f"{w}.vertices[{k}].lng"),
                 _f_number(_get(p, "lat", f"{w}.vertices[{k}]"), f"{w}.vertices[{k}].lat"))
                for k, p in enumerate(verts)))
        else:
            raise IntentError(f"{w}.volume: needs outline_circle or outline_polygon")
        vols.append(Volume(fp, _alt_ft(_get(v3, "altitude_lower", w), f"{w}.altitude_lower"),
                           _alt_ft(_get(v3, "altitude_upper", w), f"{w}.altitude_upper"),
                           parse_time(_get(v4, "time_start.value", w), f"{w}.time_start"),
                           parse_time(_get(v4, "time_end.value", w), f"{w}.time_end")))
    states = {v: k for k, v in _F3548_STATES.items()}
    state = ref.get("state", "Accepted")
    if state not in states:
        raise IntentError(f"{source}.reference.state: {state!r} is not one of "
                          f"{sorted(states)}")
    version = ref.get("version", 0)
    prio = det.get("priority", 0)
    if isinstance(version, bool) or not isinstance(version, int) or isinstance(
            prio, bool) or not isinstance(prio, int):
        raise IntentError(f"{source}: reference.version and details.priority must be "
                          "integers")
    return Intent(str(_get(ref, "id", source)), str(_get(ref, "manager", source)),
                  tuple(vols), str(det.get("skyaccord_class", "manned")), prio,
                  states[state], version)
