"""The accord as data: schema, loading and validation, canonical form and hash.

An accord is a TOML file (see ``data/default_accord.toml`` for a commented example) with
these tables:

``[accord]``
    ``id`` (str), ``version`` (int >= 1), ``title`` (str), ``effective`` (RFC 3339, optional).
``[[parties]]``
    ``id`` (short lowercase id such as ``us``), ``name``, ``public_key`` (optional,
    base64 of a 32-byte Ed25519 key).
``[classes]``
    ``names``: the aircraft classes, e.g. ``["manned", "unmanned", "civil"]``.
``[[separation]]``
    ``classes`` (a pair of class names), ``horizontal_nm`` (radius), ``vertical_ft``
    (half-height). Every unordered pair of classes must have exactly one entry.
``[alerting]``
    ``lookahead_s``; ``[[alerting.levels]]`` from least to most severe, each with
    ``name``, ``time_s`` and optionally tighter ``horizontal_nm`` / ``vertical_ft``.
``[communications]``
    ``guard_frequencies_mhz``, ``notice_lead_time_s``, ``response_deadline_s``; optionally
    ``warning_count`` (int, 1..1000) and ``warning_window_s`` (s, at most a day): the
    airspace warning sequence (default 10 warnings in 300 s, the Turkish practice of
    24 Nov 2015). The canonical form names them only when set, so accords without them
    keep their hash.
``[notify]`` (optional)
    What a node tells the other parties over the line by itself: ``level`` (the name of
    an alert level: a predicted conflict between one of its aircraft and another party's
    from this level up is sent as a ``conflict`` message; default the least severe level)
    and ``incursions`` (bool, default true: a predicted incursion of another party's
    aircraft into one of its zones is sent to that party). Named in the canonical form
    only when set, so accords without it keep their hash.
``[[zones]]`` (optional)
    Airspace zones (:class:`ZoneSpec`): ``id``, ``kind`` (one of :data:`ZONE_KINDS`),
    ``owner`` (a party id), ``lower_ft`` (default 0), ``upper_ft`` (optional), and either
    ``polygon`` (``[[lat, lon], ...]``, at least 3 points) or ``centre`` (``[lat, lon]``)
    with ``radius_nm``; ``active_from`` / ``active_until`` (RFC 3339, optional). The
    canonical form names ``zones`` only when there are some, so accords without zones
    keep their hash.

Errors name the file, the key and what is wrong. Two files that hold the same accord, in
whatever key order, number spelling (``5`` or ``5.0``) or whitespace, have the same
:meth:`Accord.canonical_json` and :attr:`Accord.sha256`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, partial
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from skyaccord.canonical import PARTY_ID, canonical_json
from skyaccord.errors import ProtocolError
from skyaccord.geo import FT, NM, FloatArray
from skyaccord.textfiles import parse_toml_text, read_text_file
from skyaccord.timeutil import format_rfc3339, parse_rfc3339

__all__ = [
    "Accord",
    "AlertLevel",
    "Minima",
    "NotifyRules",
    "Party",
    "SeparationRule",
    "ZoneSpec",
    "accord_from_dict",
    "check_lookahead",
    "default_accord",
    "default_accord_text",
    "load_accord",
    "parse_accord",
]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_LOOKAHEAD_S = 3600.0
#: The largest accord version: a signed 32-bit integer, what every store and peer holds.
MAX_VERSION = 2**31 - 1
#: kinds of airspace zone an accord may name: a party's sovereign airspace, a restricted
#: area, a temporary deconfliction zone (such as al-Tanf's), a buffer around another
ZONE_KINDS = ("sovereign", "restricted", "deconfliction", "buffer")


@dataclass(frozen=True)
class ZoneSpec:
    """An airspace zone named by the accord; :mod:`skyaccord.airspace` builds on it."""

    id: str
    kind: str
    owner: str
    lower_ft: float
    upper_ft: float | None
    polygon: tuple[tuple[float, float], ...] | None
    """vertices (lat, lon) in degrees, or None for a circle"""
    centre: tuple[float, float] | None
    radius_nm: float | None
    active_from: str | None
    active_until: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "owner": self.owner,
                               "lower_ft": float(self.lower_ft)}
        if self.upper_ft is not None:
            out["upper_ft"] = float(self.upper_ft)
        if self.polygon is not None:
            out["polygon"] = [[float(a), float(b)] for a, b in self.polygon]
        if self.centre is not None and self.radius_nm is not None:
            out["centre"] = [float(self.centre[0]), float(self.centre[1])]
            out["radius_nm"] = float(self.radius_nm)
        for key in ("active_from", "active_until"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Party:
    """A signatory or a neighbour named by the accord."""

    id: str
    name: str
    public_key: str | None = None
    """base64 of the party's 32-byte Ed25519 public key, when known"""


@dataclass(frozen=True)
class Minima:
    """A protected zone: horizontal radius and vertical half-height."""

    horizontal_nm: float
    vertical_ft: float

    @property
    def horizontal_m(self) -> float:
        return self.horizontal_nm * NM

    @property
    def vertical_m(self) -> float:
        return self.vertical_ft * FT


@dataclass(frozen=True)
class SeparationRule:
    """The minima between two aircraft classes (unordered)."""

    classes: tuple[str, str]
    minima: Minima


@dataclass(frozen=True)
class AlertLevel:
    """An alert level: applies when separation is lost within ``time_s``.

    ``minima``, when given, tightens the class-pair minima for this level: the level uses
    the smaller of the two, radius and half-height separately.
    """

    name: str
    time_s: float
    minima: Minima | None = None


def check_lookahead(lookahead_s: float) -> float:
    """``lookahead_s`` as a float when it is a usable look-ahead, (0, MAX_LOOKAHEAD_S] s.

    The one check of a look-ahead given to detection, bands and airspace prediction;
    raises :class:`~skyaccord.errors.ProtocolError` otherwise.

    >>> check_lookahead(120)
    120.0
    >>> check_lookahead(0.0)
    Traceback (most recent call last):
    ...
    skyaccord.errors.ProtocolError: look-ahead must be in (0, 3600] s, got 0.0
    """
    if not (math.isfinite(lookahead_s) and 0 < lookahead_s <= MAX_LOOKAHEAD_S):
        raise ProtocolError(
            f"look-ahead must be in (0, {MAX_LOOKAHEAD_S:g}] s, got {lookahead_s!r}"
        )
    return float(lookahead_s)


@dataclass(frozen=True)
class NotifyRules:
    """What a node tells other parties over the line by itself (the ``[notify]`` table)."""

    level: str | None = None
    """conflicts from this alert level up are told (None: the least severe level)"""
    incursions: bool = True
    """predicted incursions into a party's zones are told to the intruder's party"""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"incursions": self.incursions}
        if self.level is not None:
            out["level"] = self.level
        return out


@dataclass(frozen=True)
class Accord:
    """The agreed rules. Build with :func:`load_accord` or :func:`accord_from_dict`."""

    id: str
    version: int
    title: str
    effective: str | None
    parties: tuple[Party, ...]
    classes: tuple[str, ...]
    separation: tuple[SeparationRule, ...]
    lookahead_s: float
    levels: tuple[AlertLevel, ...]
    guard_frequencies_mhz: tuple[float, ...]
    notice_lead_time_s: float
    response_deadline_s: float
    zones: tuple[ZoneSpec, ...] = ()
    warning_count: int | None = None
    """warnings in an airspace warning sequence (None: the airspace package's default)"""
    warning_window_s: float | None = None
    """time over which they are spread, s (None: the default)"""
    notify: NotifyRules = field(default_factory=lambda: NotifyRules())
    """what a node tells other parties by itself (``[notify]``)"""

    # -- lookups ---------------------------------------------------------------------
    def party(self, party_id: str) -> Party:
        for p in self.parties:
            if p.id == party_id:
                return p
        raise ProtocolError(f"accord {self.id!r}: no party {party_id!r}; "
                            f"parties are {', '.join(p.id for p in self.parties)}")

    def class_code(self, name: str) -> int:
        """Index of an aircraft class, as used in track arrays."""
        try:
            return self.classes.index(name)
        except ValueError:
            raise ProtocolError(
                f"accord {self.id!r}: unknown aircraft class {name!r}; "
                f"classes are {', '.join(self.classes)}"
            ) from None

    def minima(self, class_a: str, class_b: str) -> Minima:
        """Separation minima between two classes (order does not matter)."""
        self.class_code(class_a)
        self.class_code(class_b)
        key = frozenset((class_a, class_b))
        for rule in self.separation:
            if frozenset(rule.classes) == key:
                return rule.minima
        raise ProtocolError(f"accord {self.id!r}: no minima for {class_a}/{class_b}")

    def minima_table_m(self) -> tuple[FloatArray, FloatArray]:
        """Radius and half-height (metres) as symmetric (k, k) arrays over class codes."""
        k = len(self.classes)
        radius = np.zeros((k, k))
        half_height = np.zeros((k, k))
        for rule in self.separation:
            a, b = (self.classes.index(c) for c in rule.classes)
            radius[a, b] = radius[b, a] = rule.minima.horizontal_m
            half_height[a, b] = half_height[b, a] = rule.minima.vertical_m
        return radius, half_height

    def with_lookahead(self, lookahead_s: float) -> Accord:
        """A copy with another look-ahead (the CLI's ``--lookahead``)."""
        return replace(self, lookahead_s=check_lookahead(lookahead_s))

    def lookahead_or(self, lookahead_s: float | None) -> float:
        """The look-ahead a computation uses: ``lookahead_s`` when given (checked by
        :func:`check_lookahead`), else the accord's own."""
        return self.lookahead_s if lookahead_s is None else check_lookahead(lookahead_s)

    # -- canonical form --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical dictionary: what the hash covers, in TOML's table layout."""
        accord: dict[str, Any] = {"id": self.id, "version": self.version, "title": self.title}
        if self.effective is not None:
            accord["effective"] = self.effective
        parties = []
        for p in sorted(self.parties, key=lambda p: p.id):
            entry: dict[str, Any] = {"id": p.id, "name": p.name}
            if p.public_key is not None:
                entry["public_key"] = p.public_key
            parties.append(entry)
        separation = [
            {
                "classes": sorted(r.classes),
                "horizontal_nm": float(r.minima.horizontal_nm),
                "vertical_ft": float(r.minima.vertical_ft),
            }
            for r in sorted(self.separation, key=lambda r: tuple(sorted(r.classes)))
        ]
        levels = []
        for level in self.levels:
            entry = {"name": level.name, "time_s": float(level.time_s)}
            if level.minima is not None:
                entry["horizontal_nm"] = float(level.minima.horizontal_nm)
                entry["vertical_ft"] = float(level.minima.vertical_ft)
            levels.append(entry)
        out: dict[str, Any] = {
            "accord": accord,
            "parties": parties,
            "classes": {"names": list(self.classes)},
            "separation": separation,
            "alerting": {"lookahead_s": float(self.lookahead_s), "levels": levels},
            "communications": {
                "guard_frequencies_mhz": [float(f) for f in self.guard_frequencies_mhz],
                "notice_lead_time_s": float(self.notice_lead_time_s),
                "response_deadline_s": float(self.response_deadline_s),
            },
        }
        if self.warning_count is not None:
            out["communications"]["warning_count"] = int(self.warning_count)
        if self.warning_window_s is not None:
            out["communications"]["warning_window_s"] = float(self.warning_window_s)
        if self.notify != NotifyRules():
            out["notify"] = self.notify.to_dict()
        if self.zones:
            out["zones"] = [z.to_dict() for z in sorted(self.zones, key=lambda z: z.id)]
        return out

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, numbers as floats where the schema says float."""
        return canonical_json(self.to_dict())

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of :meth:`canonical_json` (UTF-8): the accord's identity (computed
        once per accord: the line names it in every message, the node compares it every
        tick; the dataclass is frozen, so it cannot go stale)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# -- loading ------------------------------------------------------------------------------

class _Reader:
    """Typed access to a parsed TOML tree, with errors that name file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, what: str) -> ProtocolError:
        return ProtocolError(f"{self.source}: key '{key}': {what}")

    def table(self, tree: Mapping[str, Any], key: str, path: str,
              allowed: Sequence[str]) -> Mapping[str, Any]:
        value = tree.get(key)
        if not isinstance(value, Mapping):
            raise self.fail(path, "missing table" if value is None else "must be a table")
        self.only(value, path, allowed)
        return value

    def tables(self, tree: Mapping[str, Any], key: str, path: str,
               allowed: Sequence[str]) -> list[Mapping[str, Any]]:
        value = tree.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(path, "missing array of tables" if value is None
                            else "must be a non-empty array of tables ([[...]])")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{path}[{i}]", "must be a table")
            self.only(item, f"{path}[{i}]", allowed)
            out.append(item)
        return out

    def only(self, tree: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        for key in tree:
            if key not in allowed:
                raise self.fail(f"{path}.{key}" if path else key,
                                f"unknown key; allowed here: {', '.join(allowed)}")

    def string(self, tree: Mapping[str, Any], key: str, path: str, *,
               pattern: re.Pattern[str] | None = None, optional: bool = False) -> str | None:
        value = tree.get(key)
        if value is None:
            if optional:
                return None
            raise self.fail(f"{path}.{key}", "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{path}.{key}", f"must be a non-empty string, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(f"{path}.{key}",
                            f"{value!r} is not a valid id (lowercase letter, then "
                            "lowercase letters, digits, '-' or '_')")
        return value

    def number(self, tree: Mapping[str, Any], key: str, path: str, *,
               low: float = 0.0, high: float = math.inf, optional: bool = False) -> float | None:
        value = tree.get(key)
        if value is None:
            if optional:
                return None
            raise self.fail(f"{path}.{key}", "missing")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path}.{key}", f"must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or not (low < number <= high):
            raise self.fail(f"{path}.{key}",
                            f"must be greater than {low:g} and at most {high:g}, got {value!r}")
        return number


def _minima(r: _Reader, tree: Mapping[str, Any], path: str, *,
            optional: bool = False) -> Minima | None:
    h = r.number(tree, "horizontal_nm", path, high=500.0, optional=optional)
    v = r.number(tree, "vertical_ft", path, high=50_000.0, optional=optional)
    if h is None and v is None:
        return None
    if h is None or v is None:
        raise r.fail(path, "give both horizontal_nm and vertical_ft, or neither")
    return Minima(h, v)


def accord_from_dict(tree: Mapping[str, Any], source: str = "<accord>") -> Accord:
    """Validate a parsed TOML tree into an :class:`Accord`.

    Tables are checked in file order (``[accord]``, parties, classes, separation,
    alerting, communications, zones, notify); the first error raises."""
    r = _Reader(source)
    r.only(tree, "", ["accord", "parties", "classes", "separation", "alerting",
                      "communications", "notify", "zones"])
    accord_id, version, title, effective = _head(r, tree)
    parties = _parties(r, tree)
    classes = _classes(r, tree)
    rules = _separation(r, tree, classes)
    lookahead, levels = _alerting(r, tree)
    comms = _communications(r, tree)
    return Accord(
        id=accord_id, version=version, title=title, effective=effective,
        # Parties and rules are sets: kept sorted so that equal accords compare equal.
        parties=tuple(sorted(parties, key=lambda p: p.id)), classes=classes,
        separation=tuple(sorted(rules, key=lambda r: r.classes)),
        lookahead_s=lookahead, levels=tuple(levels),
        guard_frequencies_mhz=comms.guard_frequencies_mhz,
        notice_lead_time_s=comms.notice_lead_time_s,
        response_deadline_s=comms.response_deadline_s,
        zones=_zones(r, tree, {p.id for p in parties}),
        warning_count=comms.warning_count, warning_window_s=comms.warning_window_s,
        notify=_notify(r, tree, levels),
    )


def _head(r: _Reader, tree: Mapping[str, Any]) -> tuple[str, int, str, str | None]:
    """``[accord]``: id, version, title and the effective date-time (normalised text)."""
    head = r.table(tree, "accord", "accord", ["id", "version", "title", "effective"])
    accord_id = r.string(head, "id", "accord", pattern=_NAME)
    version = head.get("version")
    if (isinstance(version, bool) or not isinstance(version, int)
            or not 1 <= version <= MAX_VERSION):
        raise r.fail("accord.version",
                     f"must be an integer from 1 to {MAX_VERSION}, got {version!r}")
    title = r.string(head, "title", "accord")
    effective_raw = head.get("effective")
    effective: str | None = None
    if effective_raw is not None:
        if not isinstance(effective_raw, datetime | str):
            raise r.fail("accord.effective", f"must be a date-time, got {effective_raw!r}")
        effective = format_rfc3339(
            parse_rfc3339(effective_raw, error=partial(r.fail, "accord.effective")))
    assert accord_id is not None and title is not None
    return accord_id, version, title, effective


def _parties(r: _Reader, tree: Mapping[str, Any]) -> list[Party]:
    """``[[parties]]``: unique ids, names, optional Ed25519 public keys (base64)."""
    parties: list[Party] = []
    for i, entry in enumerate(r.tables(tree, "parties", "parties",
                                       ["id", "name", "public_key"])):
        path = f"parties[{i}]"
        pid = r.string(entry, "id", path, pattern=PARTY_ID)
        name = r.string(entry, "name", path)
        public_key = r.string(entry, "public_key", path, optional=True)
        if public_key is not None:
            try:
                raw = base64.b64decode(public_key, validate=True)
            except (binascii.Error, ValueError):
                raise r.fail(f"{path}.public_key", "not valid base64") from None
            if len(raw) != 32:
                raise r.fail(f"{path}.public_key",
                             f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
        assert pid is not None and name is not None
        if any(p.id == pid for p in parties):
            raise r.fail(f"{path}.id", f"duplicate party id {pid!r}")
        parties.append(Party(pid, name, public_key))
    return parties


def _classes(r: _Reader, tree: Mapping[str, Any]) -> tuple[str, ...]:
    """``[classes]``: a non-empty list of unique class names."""
    classes_tbl = r.table(tree, "classes", "classes", ["names"])
    names = classes_tbl.get("names")
    if not isinstance(names, list) or not names:
        raise r.fail("classes.names", "must be a non-empty list of class names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _NAME.match(name):
            raise r.fail(f"classes.names[{i}]", f"{name!r} is not a valid class name")
    if len(set(names)) != len(names):
        raise r.fail("classes.names", "duplicate class name")
    return tuple(names)


def _separation(r: _Reader, tree: Mapping[str, Any],
                classes: tuple[str, ...]) -> list[SeparationRule]:
    """``[[separation]]``: exactly one minima entry for every unordered class pair."""
    rules: dict[frozenset[str], SeparationRule] = {}
    for i, entry in enumerate(r.tables(tree, "separation", "separation",
                                       ["classes", "horizontal_nm", "vertical_ft"])):
        path = f"separation[{i}]"
        pair = entry.get("classes")
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(c, str) for c in pair)):
            raise r.fail(f"{path}.classes", f"must be a pair of class names, got {pair!r}")
        for c in pair:
            if c not in classes:
                raise r.fail(f"{path}.classes",
                             f"unknown class {c!r}; classes are {', '.join(classes)}")
        key = frozenset(pair)
        if key in rules:
            raise r.fail(f"{path}.classes", f"duplicate minima for {pair[0]}/{pair[1]}")
        minima = _minima(r, entry, path)
        assert minima is not None
        first, second = sorted(pair)
        rules[key] = SeparationRule((first, second), minima)
    for a_i, a in enumerate(classes):
        for b in classes[a_i:]:
            if frozenset((a, b)) not in rules:
                raise r.fail("separation", f"no minima for class pair {a}/{b}")
    return list(rules.values())


def _alerting(r: _Reader, tree: Mapping[str, Any]) -> tuple[float, list[AlertLevel]]:
    """``[alerting]``: the look-ahead and the levels, least severe first, unique names."""
    alerting = r.table(tree, "alerting", "alerting", ["lookahead_s", "levels"])
    lookahead = r.number(alerting, "lookahead_s", "alerting", high=MAX_LOOKAHEAD_S)
    assert lookahead is not None
    levels: list[AlertLevel] = []
    for i, entry in enumerate(r.tables(alerting, "levels", "alerting.levels",
                                       ["name", "time_s", "horizontal_nm", "vertical_ft"])):
        path = f"alerting.levels[{i}]"
        name = r.string(entry, "name", path, pattern=_NAME)
        time_s = r.number(entry, "time_s", path, high=MAX_LOOKAHEAD_S)
        assert name is not None and time_s is not None
        if any(level.name == name for level in levels):
            raise r.fail(f"{path}.name", f"duplicate level name {name!r}")
        if time_s > lookahead:  # never reached: detection looks no further ahead
            raise r.fail(f"{path}.time_s", f"{time_s:g} s is beyond the look-ahead "
                         f"(alerting.lookahead_s = {lookahead:g} s)")
        levels.append(AlertLevel(name, time_s, _minima(r, entry, path, optional=True)))
    return lookahead, levels


class _Communications(NamedTuple):
    guard_frequencies_mhz: tuple[float, ...]
    notice_lead_time_s: float
    response_deadline_s: float
    warning_count: int | None
    warning_window_s: float | None


def _communications(r: _Reader, tree: Mapping[str, Any]) -> _Communications:
    """``[communications]``: guard frequencies, notice lead time, response deadline and
    the optional airspace warning sequence."""
    comms = r.table(tree, "communications", "communications",
                    ["guard_frequencies_mhz", "notice_lead_time_s", "response_deadline_s",
                     "warning_count", "warning_window_s"])
    freqs = comms.get("guard_frequencies_mhz")
    if not isinstance(freqs, list) or not freqs:
        raise r.fail("communications.guard_frequencies_mhz",
                     "must be a non-empty list of frequencies in MHz")
    for i, f in enumerate(freqs):
        if isinstance(f, bool) or not isinstance(f, int | float) or not (0 < f < 100_000):
            raise r.fail(f"communications.guard_frequencies_mhz[{i}]",
                         f"must be a frequency in MHz, got {f!r}")
    lead = r.number(comms, "notice_lead_time_s", "communications", low=-1e-9, high=30 * 86400)
    deadline = r.number(comms, "response_deadline_s", "communications", high=30 * 86400)
    assert lead is not None and deadline is not None
    count = comms.get("warning_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or not 1 <= count <= 1000):
        raise r.fail("communications.warning_count",
                     f"must be an integer from 1 to 1000, got {count!r}")
    window = r.number(comms, "warning_window_s", "communications", high=86400.0,
                      optional=True)
    return _Communications(tuple(float(f) for f in freqs), lead, deadline, count, window)


def _notify(r: _Reader, tree: Mapping[str, Any], levels: Sequence[AlertLevel]) -> NotifyRules:
    if "notify" not in tree:
        return NotifyRules()
    t = r.table(tree, "notify", "notify", ["level", "incursions"])
    level = t.get("level")
    names = [lv.name for lv in levels]
    if level is not None and level not in names:
        raise r.fail("notify.level", f"must be one of the alert levels {', '.join(names)}; "
                     f"got {level!r}")
    incursions = t.get("incursions", True)
    if not isinstance(incursions, bool):
        raise r.fail("notify.incursions", f"must be true or false, got {incursions!r}")
    return NotifyRules(level, incursions)


def _lat_lon(r: _Reader, value: Any, path: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)
            or abs(value[0]) > 90 or abs(value[1]) > 180):
        raise r.fail(path, f"must be a [lat, lon] pair in degrees, got {value!r}")
    return float(value[0]), float(value[1])


def _zones(r: _Reader, tree: Mapping[str, Any], party_ids: set[str]) -> tuple[ZoneSpec, ...]:
    """The optional ``[[zones]]`` array: validated, errors name the key."""
    if "zones" not in tree:
        return ()
    out: list[ZoneSpec] = []
    for i, entry in enumerate(r.tables(tree, "zones", "zones", [
            "id", "kind", "owner", "lower_ft", "upper_ft", "polygon", "centre", "radius_nm",
            "active_from", "active_until"])):
        path = f"zones[{i}]"
        zid = r.string(entry, "id", path, pattern=_NAME)
        kind = r.string(entry, "kind", path)
        owner = r.string(entry, "owner", path, pattern=PARTY_ID)
        assert zid is not None and kind is not None and owner is not None
        if any(z.id == zid for z in out):
            raise r.fail(f"{path}.id", f"duplicate zone id {zid!r}")
        if kind not in ZONE_KINDS:
            raise r.fail(f"{path}.kind", f"{kind!r} is not a zone kind; kinds are "
                         f"{', '.join(ZONE_KINDS)}")
        if owner not in party_ids:
            raise r.fail(f"{path}.owner", f"{owner!r} is not a party of the accord")
        lower = r.number(entry, "lower_ft", path, low=-2000.0, high=100_000.0, optional=True)
        upper = r.number(entry, "upper_ft", path, low=-2000.0, high=100_000.0, optional=True)
        lower = 0.0 if lower is None else lower
        if upper is not None and upper <= lower:
            raise r.fail(f"{path}.upper_ft", f"must be above lower_ft ({lower:g})")
        polygon: tuple[tuple[float, float], ...] | None = None
        centre: tuple[float, float] | None = None
        radius = r.number(entry, "radius_nm", path, high=2000.0, optional=True)
        if "polygon" in entry:
            raw = entry["polygon"]
            if not isinstance(raw, list) or len(raw) < 3:
                raise r.fail(f"{path}.polygon", "must be a list of at least 3 [lat, lon]")
            polygon = tuple(_lat_lon(r, v, f"{path}.polygon[{k}]") for k, v in enumerate(raw))
            if "centre" in entry or radius is not None:
                raise r.fail(path, "give either polygon or centre with radius_nm, not both")
        elif "centre" in entry and radius is not None:
            centre = _lat_lon(r, entry["centre"], f"{path}.centre")
        else:
            raise r.fail(path, "give polygon, or centre with radius_nm")
        start, end = (
            None if entry.get(key) is None
            else parse_rfc3339(entry[key], error=partial(r.fail, f"{path}.{key}"))
            for key in ("active_from", "active_until"))
        if start is not None and end is not None and end <= start:
            raise r.fail(f"{path}.active_until", "must be after active_from")
        out.append(ZoneSpec(zid, kind, owner, lower, upper, polygon, centre, radius,
                            None if start is None else format_rfc3339(start),
                            None if end is None else format_rfc3339(end)))
    return tuple(out)


def parse_accord(text: str, source: str = "<string>") -> Accord:
    """Parse and validate accord TOML text; ``source`` names it in errors."""
    return accord_from_dict(parse_toml_text(text, source, ProtocolError), source)


def load_accord(path: str | Path) -> Accord:
    """Load and validate an accord file."""
    return parse_accord(read_text_file(path, "accord", ProtocolError), str(path))


def default_accord_text() -> str:
    """The TOML text of the shipped default accord (the 2015 Syria model)."""
    return (resources.files("skyaccord") / "data" / "default_accord.toml").read_text("utf-8")


def default_accord() -> Accord:
    """The shipped default accord, modeled on the 2015 Syria memorandum.

    Examples
    --------
    >>> accord = default_accord()
    >>> accord.minima("manned", "manned")
    Minima(horizontal_nm=5.0, vertical_ft=1000.0)
    >>> accord.lookahead_s
    300.0
    """
    return parse_accord(default_accord_text(), "default_accord.toml")
