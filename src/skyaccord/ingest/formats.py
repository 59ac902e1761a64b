"""Readers of recorded feeds, one per format, and the format sniffer.

Every reader takes text lines (or rows) and a :class:`FeedStats`, yields
:class:`StateUpdate` s and never raises on a bad row: the row is counted under a reason
and skipped. Formats:

``modes``    raw Mode S frames, ``UNIX_SECONDS HEX`` / JSON lines / Beast binary
``sbs``      SBS-1 BaseStation CSV (dump1090 port 30003): ``MSG,type,...`` 22 fields
``opensky``  OpenSky state vectors, CSV or Parquet: ``time, icao24, lat, lon, velocity``
             (m/s), ``heading``, ``vertrate`` (m/s), ``callsign``, ``baroaltitude`` /
             ``geoaltitude`` (m), ``onground`` (OpenSky ``states`` data set README)
``traffic``  the ``traffic`` library's trajectory records, JSON lines or a JSON array:
             ``timestamp``, ``icao24``, ``latitude``, ``longitude``, ``altitude`` (ft),
             ``groundspeed`` (kt), ``track``, ``vertical_rate`` (ft/min), ``callsign``,
             ``onground``
``tracks``   skyaccord's tracks CSV (``skyaccord detect``'s input), optional ``t`` column
``states``   ``skyaccord decode``'s output CSV (``t,icao24,callsign,lat,lon,...``)

A row the feed marks on the ground (``onground`` true; SBS-1 field 22 ``IsOnGround``
= -1) becomes a ``"ground"`` update: the picture leaves that aircraft out of detection
until a newer airborne position, as the separation minima are between airborne aircraft.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, TextIO

from skyaccord.errors import FeedError
from skyaccord.geo import FPM, FT, KT
from skyaccord.ingest.columns import STATE_COLUMNS
from skyaccord.ingest.states import FeedStats, StateUpdate, check_update
from skyaccord.timeutil import rfc3339_seconds

__all__ = [
    "FORMATS",
    "STATE_COLUMNS",
    "opensky_parquet_rows",
    "read_opensky_rows",
    "read_sbs",
    "read_states_csv",
    "read_tracks_rows",
    "read_traffic",
    "sniff_format",
    "write_states_csv",
]

FORMATS: Final = ("modes", "sbs", "opensky", "traffic", "tracks", "states")
_M_FT: Final = 1.0 / FT
_MS_KT: Final = 1.0 / KT
_MS_FPM: Final = 1.0 / FPM
_SBS_KINDS: Final = {"1": "identity", "2": "position", "3": "position", "4": "velocity",
                     "5": "altitude", "6": "identity", "7": "altitude", "8": "identity"}
_SBS_OTHER: Final = frozenset(("SEL", "ID", "AIR", "STA", "CLK"))


def _num(text: str | None) -> float | None:
    """A float, None for empty; ValueError for junk or non-finite."""
    if text is None:
        return None
    s = str(text).strip()
    if not s or s.lower() in ("nan", "null", "none"):
        return None
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"not finite: {s!r}")
    return v


def _on_ground(v: Any) -> bool:
    """An ``onground`` cell (JSON bool, ``true``/``1`` text) says on the surface."""
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("true", "1", "-1", "t")


def _keep(u: StateUpdate, stats: FeedStats, where: str) -> bool:
    reason = check_update(u)
    if reason is not None:
        stats.reject(reason, where)
        return False
    return True


def _collect_sorted(records: Iterable[tuple[str, Any]],
                    parse: Callable[[Any, str], StateUpdate],
                    stats: FeedStats) -> list[StateUpdate]:
    """Parse every ``(where, record)`` (counting it; a parse error is a ``bad line``),
    keep the plausible updates and sort them by time: for files grouped by aircraft."""
    out: list[StateUpdate] = []
    for where, rec in records:
        stats.read += 1
        try:
            u = parse(rec, where)
        except (ValueError, KeyError, TypeError) as exc:
            stats.reject("bad line", f"{where}: {exc}")
            continue
        if _keep(u, stats, where):
            out.append(u)
    out.sort(key=lambda u: u.t)
    stats.updates += len(out)
    return out


class _Clock:
    """Time-order check of one feed: refuse a time earlier than the latest by more than
    ``reorder_s``."""

    def __init__(self, stats: FeedStats, reorder_s: float) -> None:
        self.stats, self.reorder_s, self.last = stats, reorder_s, -math.inf

    def ok(self, t: float, where: str) -> bool:
        if t < self.last - self.reorder_s:
            self.stats.reject("time backwards", f"{where}: t={t} after t={self.last}")
            return False
        self.last = max(self.last, t)
        return True


# ----------------------------------------------------------------------------- SBS-1

def _sbs_time(date: str, time: str) -> float:
    """``2015/10/20`` + ``12:00:00.000`` as UTC seconds (dump1090 writes the receiver's
    clock; skyaccord takes it as UTC)."""
    d = dt.datetime.strptime(f"{date.strip()} {time.strip()}", "%Y/%m/%d %H:%M:%S.%f")
    return d.replace(tzinfo=dt.UTC).timestamp()


def read_sbs(lines: Iterable[str], stats: FeedStats, name: str = "", *,
             reorder_s: float = 1.0,
             clock: Callable[[], float] | None = None) -> Iterator[StateUpdate]:
    """State updates from SBS-1 BaseStation lines (types 1-8 of ``MSG`` lines).

    ``clock`` gives the time of lines without a generated date/time (live feeds).

    >>> line = ("MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:00.000,2015/10/20,12:00:00.000,"
    ...         ",35000,,,34.5,36.25,,,0,0,0,0")
    >>> u = next(read_sbs([line], FeedStats()))
    >>> u.icao24, u.kind, u.lat, u.lon, u.alt_ft, u.t
    ('4ca2d6', 'position', 34.5, 36.25, 35000.0, 1445342400.0)
    """
    order = _Clock(stats, reorder_s)
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        stats.read += 1
        where = f"{name} line {n}"
        f = s.split(",")
        if f[0] in _SBS_OTHER:
            continue
        if f[0] != "MSG" or len(f) < 18 or f[1].strip() not in _SBS_KINDS:
            stats.reject("bad line", f"{where}: {s[:80]!r}")
            continue
        try:
            icao = f[4].strip().lower()
            if not icao:
                raise ValueError("empty hex ident")
            if f[6].strip() and f[7].strip():
                t = _sbs_time(f[6], f[7])
            elif clock is not None:
                t = clock()
            else:
                raise ValueError("no date/time")
            lat, lon = _num(f[14]), _num(f[15])
            u = StateUpdate(
                t, icao, _SBS_KINDS[f[1].strip()], f[10].strip() or None, lat, lon,
                _num(f[11]), _num(f[12]), _num(f[13]), _num(f[16]),
                f[17].strip() or None, source=name)
        except ValueError as exc:
            stats.reject("bad line", f"{where}: {exc}")
            continue
        if len(f) > 21 and f[21].strip() == "-1":  # IsOnGround
            u = u._replace(kind="ground")
        elif u.has_position and u.has_velocity:
            u = u._replace(kind="state")
        elif u.has_velocity:
            u = u._replace(kind="velocity")
        if not _keep(u, stats, where) or not order.ok(t, where):
            continue
        stats.updates += 1
        yield u


# ----------------------------------------------------------------------------- OpenSky

def read_opensky_rows(rows: Iterable[dict[str, Any]], stats: FeedStats,
                      name: str = "") -> Iterator[StateUpdate]:
    """State updates from OpenSky state-vector rows (dicts keyed by column name); SI
    units converted to ft, kt, ft/min."""
    for n, row in enumerate(rows, 2):
        stats.read += 1
        where = f"{name} row {n}"
        try:
            t = _num(row.get("time"))
            icao = str(row.get("icao24") or "").strip().lower()
            if t is None or not icao:
                raise ValueError("missing time or icao24")
            alt_m = _num(row.get("baroaltitude"))
            if alt_m is None:
                alt_m = _num(row.get("geoaltitude"))
            v, vr = _num(row.get("velocity")), _num(row.get("vertrate"))
            cs = str(row.get("callsign") or "").strip() or None
            kind = "ground" if _on_ground(row.get("onground")) else "state"
            u = StateUpdate(
                t, icao, kind, cs, _num(row.get("lat")), _num(row.get("lon")),
                None if alt_m is None else alt_m * _M_FT,
                None if v is None else v * _MS_KT, _num(row.get("heading")),
                None if vr is None else vr * _MS_FPM,
                str(row.get("squawk") or "").strip() or None, source=name)
        except (ValueError, TypeError) as exc:
            stats.reject("bad line", f"{where}: {exc}")
            continue
        if not _keep(u, stats, where):
            continue
        stats.updates += 1
        yield u


def opensky_parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of an OpenSky Parquet file as dicts, for :func:`read_opensky_rows`
    (needs pyarrow: extra ``parquet``)."""
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise FeedError(f"{path}: reading Parquet needs pyarrow: "
                        "pip install 'skyaccord[parquet]'") from None
    try:
        table = pq.ParquetFile(path)
        for batch in table.iter_batches(batch_size=65536):
            yield from batch.to_pylist()
    except (OSError, ValueError) as exc:
        raise FeedError(f"{path}: cannot read Parquet: {exc}") from None


# ----------------------------------------------------------------------------- traffic

def _traffic_time(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        x = float(v)
        return x / 1000.0 if x > 1e11 else x  # pandas writes epoch milliseconds
    # pandas writes "2020-01-01 10:00:00+00:00"; a time without an offset is UTC
    return rfc3339_seconds(str(v).strip().replace(" ", "T"), naive_is_utc=True)


def _traffic_record(rec: Any, name: str, where: str) -> StateUpdate:
    if not isinstance(rec, dict):
        raise ValueError("not a JSON object")
    icao = str(rec.get("icao24") or rec.get("flight_id") or "").strip().lower()
    if not icao:
        raise ValueError("missing icao24")

    def g(key: str) -> float | None:
        v = rec.get(key)
        return None if v is None else _num(str(v))

    cs = rec.get("callsign")
    sq = rec.get("squawk")
    return StateUpdate(_traffic_time(rec["timestamp"]), icao,
                       "ground" if _on_ground(rec.get("onground")) else "state",
                       str(cs).strip() if cs else None, g("latitude"), g("longitude"),
                       g("altitude"), g("groundspeed"), g("track"), g("vertical_rate"),
                       str(sq).strip() if sq else None, source=name)


def read_traffic(text: str, stats: FeedStats, name: str = "") -> list[StateUpdate]:
    """State updates from a ``traffic`` trajectory file, sorted by time (its samples are
    grouped by flight)."""
    s = text.lstrip()
    records: Iterable[tuple[int, Any]]
    if s.startswith("["):
        try:
            records = enumerate(json.loads(s), 1)
        except ValueError as exc:
            stats.read += 1
            stats.reject("bad line", f"{name}: not JSON: {exc}")
            return []
    else:
        def lines() -> Iterator[tuple[int, Any]]:
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        yield n, json.loads(line)
                    except ValueError:
                        yield n, None
        records = lines()
    return _collect_sorted(((f"{name} record {n}", rec) for n, rec in records),
                           lambda rec, where: _traffic_record(rec, name, where), stats)


# ----------------------------------------------------------------------------- CSVs

def read_tracks_rows(lines: Iterable[str], stats: FeedStats,
                     name: str = "") -> list[StateUpdate]:
    """State updates from a tracks CSV; ``t`` defaults to 0; party and class kept."""
    reader = csv.DictReader(lines)

    def parse(row: dict[str, Any], where: str) -> StateUpdate:
        if None in row or any(v is None for v in row.values()):
            raise ValueError("wrong number of fields")
        tid, party = (row.get("id") or "").strip(), (row.get("party") or "").strip()
        if not tid or not party:
            raise ValueError("missing id or party")
        u = StateUpdate(
            _num(row.get("t")) or 0.0, tid, "state", None, _num(row.get("lat")),
            _num(row.get("lon")), _num(row.get("alt_ft")), _num(row.get("gs_kt")),
            _num(row.get("trk_deg")), _num(row.get("vs_fpm")), None, party,
            (row.get("class") or "").strip() or None, source=name)
        if not (u.has_position and u.has_velocity and u.alt_ft is not None):
            raise ValueError("missing position, altitude or velocity")
        return u

    return _collect_sorted(((f"{name} line {reader.line_num}", row) for row in reader),
                           parse, stats)


def read_states_csv(lines: Iterable[str], stats: FeedStats,
                    name: str = "") -> Iterator[StateUpdate]:
    """State updates from ``skyaccord decode``'s CSV (``on_ground`` 1: a ``ground``
    update; files written before that column read as airborne)."""
    reader = csv.DictReader(lines)
    order = _Clock(stats, 1.0)
    for row in reader:
        stats.read += 1
        where = f"{name} line {reader.line_num}"
        try:
            t = _num(row.get("t"))
            icao = (row.get("icao24") or "").strip()
            if t is None or not icao:
                raise ValueError("missing t or icao24")
            kind = "ground" if _on_ground(row.get("on_ground")) else "state"
            u = StateUpdate(t, icao, kind, (row.get("callsign") or "").strip() or None,
                            _num(row.get("lat")), _num(row.get("lon")),
                            _num(row.get("alt_ft")), _num(row.get("gs_kt")),
                            _num(row.get("trk_deg")), _num(row.get("vs_fpm")), source=name)
        except (ValueError, TypeError) as exc:
            stats.reject("bad line", f"{where}: {exc}")
            continue
        if _keep(u, stats, where) and order.ok(t, where):
            stats.updates += 1
            yield u


def _cell(v: object, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def write_states_csv(updates: Iterable[StateUpdate], out: TextIO) -> int:
    """Write ``skyaccord decode``'s CSV (:data:`STATE_COLUMNS`, read back by
    :func:`read_states_csv`) to the text stream ``out``, row by row: one row per
    position, velocity or state update, whose missing fields are the aircraft's last
    airborne values (empty if none yet), and one per ground report (``on_ground`` 1),
    with that report's own fields only; a row that repeats the aircraft's previous row
    (the same time and values) is left out. Positions are as decoded, never
    extrapolated. Returns the number of rows. (``skyaccord decode`` writes the same bytes with
    :class:`~skyaccord.ingest.columns.StatesCsvWriter`, vectorised.)"""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(STATE_COLUMNS)
    last: dict[str, list[object]] = {}
    written: dict[str, tuple[object, ...]] = {}  # each aircraft's last row, to drop repeats
    n = 0
    for u in updates:
        row = last.setdefault(u.icao24, [None] * 7)
        if u.callsign:
            row[0] = u.callsign
        ground = u.kind == "ground"
        if not ground:
            if u.has_position:
                row[1], row[2] = u.lat, u.lon
            if u.alt_ft is not None:
                row[3] = u.alt_ft
            if u.has_velocity:
                row[4], row[5], row[6] = u.gs_kt, u.trk_deg, u.vs_fpm
        if u.kind not in ("position", "velocity", "state", "ground"):
            continue
        cs, lat, lon, alt, gs, trk, vs = row
        if ground:
            lat, lon, alt, gs, trk, vs = u.lat, u.lon, u.alt_ft, u.gs_kt, u.trk_deg, u.vs_fpm
        state = (u.t, cs, lat, lon, alt, gs, trk, vs, ground)
        if written.get(u.icao24) == state:  # frames of one instant, one state: one row
            continue
        written[u.icao24] = state
        w.writerow([f"{u.t:.6f}", u.icao24, cs or "", _cell(lat, 6), _cell(lon, 6),
                    _cell(alt, 0), _cell(gs, 1), _cell(trk, 2), _cell(vs, 0),
                    "1" if ground else "0"])
        n += 1
    return n


# ----------------------------------------------------------------------------- sniffing

def sniff_format(path: Path, head: bytes) -> str:
    """The format of a file from its name and first bytes (see :data:`FORMATS`).

    >>> sniff_format(Path("x"), b"1753827785.8,8DADA5265851E6616376C2EB4463\\n")
    'modes'
    >>> sniff_format(Path("x"), b"MSG,3,1,1,4CA2D6,1,2015/10/20,12:00:00.000,")
    'sbs'
    """
    if path.suffix.lower() == ".parquet" or head.startswith(b"PAR1"):
        return "opensky"
    if len(head) > 1 and head[0] == 0x1A and head[1] in b"123":
        return "modes"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first.startswith("["):
        return "traffic"
    if first.startswith("{"):
        return "modes" if '"frame"' in first else "traffic"
    if first.split(",")[0] in ({"MSG"} | _SBS_OTHER):
        return "sbs"
    cols = {c.strip().lower() for c in first.split(",")}
    if {"icao24", "velocity"} <= cols or {"icao24", "baroaltitude"} <= cols:
        return "opensky"
    if {"t", "icao24", "lat", "lon"} <= cols:
        return "states"
    if {"id", "party", "lat", "lon"} <= cols:
        return "tracks"
    from skyaccord.ingest.modes import frame_problem, parse_frame_line

    parsed = parse_frame_line(first)
    if parsed is not None and frame_problem(parsed[1]) is None:
        return "modes"
    raise FeedError(f"{path}: line 1: cannot tell the format from {first[:60]!r}; "
                    f"give --format, one of {', '.join(FORMATS)}")
