"""Theatre scenarios: a YAML file of places, parties, missions and civil flows.

The file is read with PyYAML (MIT) as a node tree, so that every value keeps its line, and
checked by pydantic models: an error names the file, the line and the field, e.g.
``syria.yaml:41: missions[3].type: unknown aircraft type 'Su-27'; known types: ...``.

Format (all times UTC; ``HH:MM[:SS]`` on the scenario's ``date``, or ISO 8601)::

    name: syria2015
    date: 2015-11-24
    start: "05:00"            # the simulated window
    end: "13:00"
    busiest: ["06:30", "08:30"]   # the window ``skyaccord demo`` runs
    step_s: 10                # surveillance update period (each node ticks once a step)
    seed: 2015
    centre: [35.85, 36.35]    # the local plane's centre
    wind: {from_deg: 270, speed_kt: 40}
    accord: null              # a TOML file (relative to this one), default: the shipped
    places: {hmeimim: {lat: 35.401, lon: 35.949, elev_ft: 157}, ...}
    parties:
      ru: {respond_delay_s: [20, 200], respond_probability: 0.7, request_level: warning,
           notice_s: 1800, guard_warnings: true}
    missions:
      - id: RU-S1
        party: ru
        type: Su-24M           # a type of skyaccord.sim.performance
        start: "07:00"
        from: hmeimim          # starts at this place (else at the first waypoint)
        route: [{at: kessab, alt_ft: 19000}, [35.83, 36.20, 19000]]
        orbit: {fix: {at: idlib, alt_ft: 20000}, inbound_deg: 90, leg_nm: 15,
                until: "09:00"}      # a racetrack after the route, then ``then``
        then: [{at: hmeimim, alt_ft: 2000}]
        count: 2               # a package in trail, spacing_nm apart
    flows:                     # civil airliners along airways
      - {prefix: CIV, type: A320, airway: [a, b, c], first: "05:10", every_s: 1800,
         fl: [330, 350, 370]}
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from skyaccord.errors import InputError
from skyaccord.sim.performance import performance

__all__ = ["Flow", "Mission", "Orbit", "PartyConduct", "Place", "Scenario", "ScenarioError",
           "Waypoint", "load_scenario", "parse_scenario", "scenario_path"]

#: a scenario file is at most this big (a theatre day is some tens of kilobytes)
MAX_SCENARIO_BYTES = 4 << 20


class ScenarioError(InputError):
    """A scenario file that cannot be read or does not validate (names file and line)."""

    kind = "invalid-scenario"


_Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
_Lat = Annotated[float, Field(ge=-89.0, le=89.0, allow_inf_nan=False)]
_Lon = Annotated[float, Field(ge=-180.0, le=360.0, allow_inf_nan=False)]
_Alt = Annotated[float, Field(ge=-1000.0, le=100_000.0, allow_inf_nan=False)]
_Pos = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Place(_Model):
    lat: _Lat
    lon: _Lon
    elev_ft: _Alt = 0.0


class Waypoint(_Model):
    """A point of a route: a named place (``at``) or ``lat``/``lon``; the altitude to
    fly there and, optionally, the speed."""

    at: _Name | None = None
    lat: _Lat | None = None
    lon: _Lon | None = None
    alt_ft: _Alt
    speed_kt: Annotated[float, Field(gt=0, le=2500)] | None = None

    @classmethod
    def coerce(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):  # [lat, lon, alt_ft]
            if len(value) != 3:
                raise ValueError("a waypoint list is [lat, lon, alt_ft]")
            return {"lat": value[0], "lon": value[1], "alt_ft": value[2]}
        return value

    @model_validator(mode="after")
    def _one_position(self) -> Waypoint:
        if (self.at is None) == (self.lat is None or self.lon is None):
            raise ValueError("give either at (a place) or lat and lon")
        return self


def _waypoints(value: Any) -> Any:
    if isinstance(value, list):
        return [Waypoint.coerce(v) for v in value]
    return value


class Orbit(_Model):
    """A racetrack: inbound leg of ``leg_nm`` ending at ``fix``, standard-rate turns to
    the ``turn`` side; flown until ``until``."""

    fix: Waypoint
    inbound_deg: Annotated[float, Field(ge=0, lt=360)]
    leg_nm: Annotated[float, Field(gt=0, le=200)]
    turn: Literal["left", "right"] = "right"
    until: str

    @field_validator("fix", mode="before")
    @classmethod
    def _fix(cls, v: Any) -> Any:
        return Waypoint.coerce(v)


class Mission(_Model):
    id: _Name
    party: _Name
    type: str
    aircraft_class: Annotated[str | None, Field(alias="class")] = None
    callsign: Annotated[str | None, Field(max_length=16)] = None
    start: str
    from_: Annotated[_Name | None, Field(alias="from")] = None
    start_alt_ft: _Alt | None = None
    route: Annotated[list[Waypoint], Field(min_length=1, max_length=500)]
    orbit: Orbit | None = None
    then: Annotated[list[Waypoint], Field(max_length=500)] = []
    count: Annotated[int, Field(ge=1, le=24)] = 1
    spacing_nm: Annotated[float, Field(ge=0.1, le=50)] = 2.0
    start_jitter_s: Annotated[float, Field(ge=0, le=3600)] = 0.0
    intent: bool = True
    """file an intent for this mission (the party's ``notice_s`` before its start)"""
    notice_s: Annotated[float, Field(ge=0, le=7 * 86400)] | None = None

    _route = field_validator("route", "then", mode="before")(_waypoints)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        performance(v)
        return v


class Flow(_Model):
    """Civil airliners along an airway: one every ``every_s`` from ``first`` to ``last``,
    alternately in each direction, at flight levels taken in turn from ``fl``."""

    prefix: _Name
    type: str
    party: _Name = "civil"
    airway: Annotated[list[_Name], Field(min_length=2, max_length=100)]
    first: str
    last: str
    every_s: Annotated[float, Field(ge=60, le=86400)]
    fl: Annotated[list[Annotated[int, Field(ge=10, le=600)]], Field(min_length=1)]
    both_ways: bool = True

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        performance(v)
        return v


class PartyConduct(_Model):
    """How a party's (scripted) operators behave on the line and the guard frequency."""

    respond_delay_s: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = (
        20.0, 150.0)
    """a request is answered after a delay drawn uniformly from this range ..."""
    respond_probability: Annotated[float, Field(ge=0, le=1)] = 1.0
    """... or, with the complement of this probability, never (it goes overdue)"""
    request_level: str | None = "warning"
    """on a conflict of one of its aircraft with another party's at this alert level, the
    party asks the other over the line to act (a ``request``); None never asks"""
    guard_warnings: bool = True
    """warn intruders into its zones on the guard frequencies (the accord's sequence)"""
    notice_s: Annotated[float, Field(ge=0, le=7 * 86400)] = 5400.0
    """intents of its missions are filed this long before the mission starts"""


class Wind(_Model):
    from_deg: Annotated[float, Field(ge=0, le=360)]
    speed_kt: Annotated[float, Field(ge=0, le=250)]


class Scenario(_Model):
    name: _Name
    description: str = ""
    date: dt.date
    start: str
    end: str
    busiest: tuple[str, str] | None = None
    step_s: Annotated[float, Field(ge=1, le=60)] = 5.0
    seed: int = 0
    centre: tuple[_Lat, _Lon]
    wind: Wind | None = None
    accord: str | None = None
    places: dict[_Name, Place] = {}
    parties: dict[_Name, PartyConduct] = {}
    missions: Annotated[list[Mission], Field(max_length=5000)] = []
    flows: Annotated[list[Flow], Field(max_length=200)] = []

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        _parse_time(v, dt.date(2000, 1, 1))
        return v

    # -- times ---------------------------------------------------------------------
    def time(self, text: str) -> float:
        """UTC seconds of ``text`` (``HH:MM[:SS]`` on :attr:`date`, or ISO 8601)."""
        return _parse_time(text, self.date)

    @property
    def t_start(self) -> float:
        return self.time(self.start)

    @property
    def t_end(self) -> float:
        return self.time(self.end)

    def place(self, name: str) -> Place:
        try:
            return self.places[name]
        except KeyError:
            raise ScenarioError(f"scenario {self.name!r}: unknown place {name!r}; places: "
                                f"{', '.join(sorted(self.places)) or 'none'}") from None

    def point(self, w: Waypoint) -> tuple[float, float, float]:
        """(lat, lon, alt_ft) of a waypoint."""
        if w.at is not None:
            p = self.place(w.at)
            return p.lat, p.lon, w.alt_ft
        assert w.lat is not None and w.lon is not None
        return w.lat, w.lon, w.alt_ft

    def conduct(self, party: str) -> PartyConduct:
        return self.parties.get(party, PartyConduct())


def _parse_time(text: str, date: dt.date) -> float:
    text = str(text).strip()
    try:
        if "T" in text or "-" in text:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
        else:
            parts = [int(p) for p in text.split(":")]
            if not 2 <= len(parts) <= 3:
                raise ValueError
            h, m, s = ([*parts, 0])[:3]
            if not (0 <= h <= 47 and 0 <= m < 60 and 0 <= s < 60):
                raise ValueError
            stamp = dt.datetime.combine(date, dt.time(0, 0), dt.UTC) + dt.timedelta(
                hours=h, minutes=m, seconds=s)
    except ValueError:
        raise ValueError(f"{text!r} is not a time (HH:MM[:SS] or ISO 8601 UTC)") from None
    return stamp.timestamp()


# -- line numbers ---------------------------------------------------------------------
def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the value at ``loc`` in the composed YAML tree (the deepest
    node found on the way, when the value itself is missing)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    child = v
                    break
        elif (isinstance(node, yaml.SequenceNode) and isinstance(key, int)
              and 0 <= key < len(node.value)):
            child = node.value[key]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for k in loc:
        if isinstance(k, int):
            out += f"[{k}]"
        elif not k.startswith(("function-", "tuple[", "list[", "dict[")) and k != "[key]":
            out += ("." if out else "") + k
    return out or "(top)"


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Read and validate a scenario's YAML text; errors name ``source`` and the line."""
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{source}{at}: not valid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}:1: a scenario is a mapping (name:, date:, ...)")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors()[:10]:
            loc = tuple(e["loc"])
            line = _line_of(tree, loc)
            msg = str(e["msg"]).removeprefix("Value error, ")
            lines.append(f"{source}:{line or 1}: {_where(loc)}: {msg}")
        more = len(exc.errors()) - 10
        raise ScenarioError("\n".join(lines) + (f"\n... {more} more" if more > 0 else "")
                            ) from None
    _check_refs(scenario, tree, source)
    return scenario


def _check_refs(s: Scenario, tree: yaml.Node | None, source: str) -> None:
    """Names that must exist: places, parties' aircraft classes, times that parse."""
    def fail(loc: tuple[int | str, ...], what: str) -> ScenarioError:
        return ScenarioError(f"{source}:{_line_of(tree, loc) or 1}: {_where(loc)}: {what}")

    def check_wp(w: Waypoint, loc: tuple[int | str, ...]) -> None:
        if w.at is not None and w.at not in s.places:
            raise fail((*loc, "at"), f"unknown place {w.at!r}; places: "
                       f"{', '.join(sorted(s.places)) or 'none'}")

    def check_time(text: str, loc: tuple[int | str, ...]) -> None:
        try:
            s.time(text)
        except ValueError as exc:
            raise fail(loc, str(exc)) from None

    if s.t_end <= s.t_start:
        raise fail(("end",), "must be after start")
    if s.busiest is not None:
        for k in (0, 1):
            check_time(s.busiest[k], ("busiest", k))
    for i, m in enumerate(s.missions):
        loc: tuple[int | str, ...] = ("missions", i)
        check_time(m.start, (*loc, "start"))
        if m.from_ is not None and m.from_ not in s.places:
            raise fail((*loc, "from"), f"unknown place {m.from_!r}")
        for j, w in enumerate(m.route):
            check_wp(w, (*loc, "route", j))
        for j, w in enumerate(m.then):
            check_wp(w, (*loc, "then", j))
        if m.orbit is not None:
            check_wp(m.orbit.fix, (*loc, "orbit", "fix"))
            check_time(m.orbit.until, (*loc, "orbit", "until"))
        if m.aircraft_class is not None and m.aircraft_class not in (
                "manned", "unmanned", "civil"):
            raise fail((*loc, "class"), "must be manned, unmanned or civil")
    for i, f in enumerate(s.flows):
        for j, name in enumerate(f.airway):
            if name not in s.places:
                raise fail(("flows", i, "airway", j), f"unknown place {name!r}")
        check_time(f.first, ("flows", i, "first"))
        check_time(f.last, ("flows", i, "last"))
    ids = [m.id for m in s.missions]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise fail(("missions",), f"mission ids used twice: {', '.join(dup)}")
    for party, c in s.parties.items():
        lo, hi = c.respond_delay_s
        if hi < lo or not math.isfinite(hi):
            raise fail(("parties", party, "respond_delay_s"), "must be [low, high], low <= high")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (see the module's format)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{p}: a scenario is at most {MAX_SCENARIO_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: cannot read scenario: {exc}") from None
    return parse_scenario(text, str(p))


def scenario_path(name_or_path: str | Path) -> Path:
    """A scenario file: a path, or the name of a shipped theatre (``syria2015``)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    from importlib import resources

    shipped = resources.files("skyaccord") / "data" / "theatres" / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ScenarioError(f"{name_or_path}: no such scenario file or shipped theatre")
    return Path(str(shipped))
