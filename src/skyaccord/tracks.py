"""A picture of tracks as numpy struct-of-arrays, and the tracks CSV format.

:class:`Tracks` is what the tactical kernels take: one row per aircraft, aviation units
at this edge (degrees, ft, kt, deg, fpm), converted to SI inside the kernels.

The tracks CSV (``skyaccord detect``'s input) has a header row naming the columns
``id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm`` in any order; ``class`` may be
absent (every track is then ``manned``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TextIO

import numpy as np
import numpy.typing as npt

from skyaccord.errors import TrackDataError
from skyaccord.geo import FloatArray

__all__ = [
    "TRACK_COLUMNS",
    "TRACK_RANGES",
    "BadRow",
    "Tracks",
    "TracksFile",
    "read_tracks_csv",
    "write_tracks_csv",
]

StrArray = npt.NDArray[np.str_]

#: columns of the tracks CSV, in the order skyaccord writes them
TRACK_COLUMNS = ("id", "party", "class", "lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm")
_NUMERIC = ("lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm")
_COLUMNS = ("id", "party", "aircraft_class", *_NUMERIC)
DEFAULT_CLASS = "manned"

#: The physical range of each numeric column, inclusive, checked on every input (a CSV
#: row, ``Tracks.validate``): beyond them a value is a unit or encoding mistake, and
#: arithmetic on it (1e300 kt squared) overflows silently. Altitude: the Mode S/ADS-B
#: encodable range is -1,000 to 126,700 ft (ICAO Annex 10 Vol IV), with margin below
#: (the Dead Sea shore is -1,400 ft). Ground speed: ADS-B's supersonic airborne velocity
#: tops out at 4,086 kt (RTCA DO-260B 2.2.3.2.6). Vertical rate: DO-260B encodes up to
#: ±32,608 ft/min. Track: degrees, one turn either way (read modulo 360).
TRACK_RANGES: dict[str, tuple[float, float]] = {
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "alt_ft": (-2_000.0, 130_000.0),
    "gs_kt": (0.0, 4_100.0),
    "trk_deg": (-360.0, 360.0),
    "vs_fpm": (-33_000.0, 33_000.0),
}


@dataclass(frozen=True)
class Tracks:
    """N tracks as parallel 1-D arrays (struct-of-arrays).

    Columns and units: ``id`` (str, unique), ``party`` (str), ``aircraft_class`` (str, a
    class of the accord), ``lat``/``lon`` (WGS84 degrees), ``alt_ft`` (pressure altitude,
    ft), ``gs_kt`` (ground speed, kt, >= 0), ``trk_deg`` (true track, degrees clockwise
    from north), ``vs_fpm`` (vertical speed, ft/min, climb positive).
    """

    id: StrArray
    party: StrArray
    aircraft_class: StrArray
    lat: Annotated[FloatArray, "deg"]
    lon: Annotated[FloatArray, "deg"]
    alt_ft: Annotated[FloatArray, "ft"]
    gs_kt: Annotated[FloatArray, "kt"]
    trk_deg: Annotated[FloatArray, "deg"]
    vs_fpm: Annotated[FloatArray, "ft/min"]
    _n: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = None
        for name in _COLUMNS:
            value = getattr(self, name)
            arr = (np.asarray(value, dtype=np.str_) if name in ("id", "party", "aircraft_class")
                   else np.asarray(value, dtype=np.float64))
            if arr.ndim != 1:
                raise TrackDataError(f"tracks column {name!r} must be 1-D, got shape {arr.shape}")
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise TrackDataError(
                    f"tracks column {name!r} has {arr.shape[0]} rows, expected {n}")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "_n", n or 0)

    def __len__(self) -> int:
        return self._n

    @classmethod
    def empty(cls) -> Tracks:
        e = np.zeros(0)
        s = np.zeros(0, dtype=np.str_)
        return cls(s, s, s, e, e, e, e, e, e)

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[object]]) -> Tracks:
        """Build from rows in :data:`TRACK_COLUMNS` order (validated)."""
        cols = list(zip(*rows, strict=True)) or [()] * len(TRACK_COLUMNS)
        if len(cols) != len(TRACK_COLUMNS):
            raise TrackDataError(f"rows must have {len(TRACK_COLUMNS)} fields")
        text = [np.asarray(c, dtype=np.str_) for c in cols[:3]]
        numbers = [np.asarray(c, dtype=np.float64) for c in cols[3:]]
        tracks = cls(text[0], text[1], text[2], numbers[0], numbers[1], numbers[2],
                     numbers[3], numbers[4], numbers[5])
        tracks.validate()
        return tracks

    def take(self, index: npt.ArrayLike) -> Tracks:
        """The tracks at ``index`` (integer indices or a boolean mask)."""
        idx = np.asarray(index)
        return Tracks(*(getattr(self, n)[idx] for n in _COLUMNS))

    def with_columns(self, **columns: npt.ArrayLike) -> Tracks:
        """A copy with some columns replaced (e.g. another ``trk_deg``)."""
        values = {n: getattr(self, n) for n in _COLUMNS}
        for name, value in columns.items():
            if name not in values:
                raise TrackDataError(f"no tracks column {name!r}")
            values[name] = np.asarray(value)
        return Tracks(**values)

    def validate(self) -> None:
        """Raise :class:`TrackDataError` naming the first bad row and column."""
        for name in _NUMERIC:
            bad = ~np.isfinite(getattr(self, name))
            if bad.any():
                i = int(np.argmax(bad))
                raise TrackDataError(f"row {i} (id {str(self.id[i])!r}): {name} is not finite")
        for name, (lo, hi) in TRACK_RANGES.items():
            values = getattr(self, name)
            bad = (values < lo) | (values > hi)
            if bad.any():
                i = int(np.argmax(bad))
                raise TrackDataError(f"row {i} (id {str(self.id[i])!r}): {name} "
                                     f"{float(values[i])!r} outside [{lo:g}, {hi:g}]")
        if self._n:
            uniq, counts = np.unique(self.id, return_counts=True)
            if (counts > 1).any():
                dup = uniq[counts > 1][0]
                raise TrackDataError(f"duplicate track id {str(dup)!r}")
            empty = (np.char.str_len(self.id) == 0)
            if empty.any():
                raise TrackDataError(f"row {int(np.argmax(empty))}: empty id")


@dataclass(frozen=True)
class BadRow:
    """A CSV row that was refused, with where and why."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column!r}: {self.reason}"


@dataclass(frozen=True)
class TracksFile:
    """What :func:`read_tracks_csv` read: the tracks and the rows it skipped."""

    tracks: Tracks
    skipped: tuple[BadRow, ...]


def _check_row(row: dict[str, str], line: int) -> tuple[list[object], BadRow | None]:
    values: list[object] = []
    for col in ("id", "party"):
        v = (row.get(col) or "").strip()
        if not v:
            return [], BadRow(line, col, "missing value")
        values.append(v)
    values.append((row.get("class") or "").strip() or DEFAULT_CLASS)
    for col in _NUMERIC:
        raw = (row.get(col) or "").strip()
        if not raw:
            return [], BadRow(line, col, "missing value")
        try:
            number = float(raw)
        except ValueError:
            return [], BadRow(line, col, f"not a number: {raw!r}")
        if not math.isfinite(number):
            return [], BadRow(line, col, f"not a finite number: {raw!r}")
        lo, hi = TRACK_RANGES[col]
        if not lo <= number <= hi:
            return [], BadRow(line, col, f"{raw} outside [{lo:g}, {hi:g}]")
        values.append(number)
    return values, None


def _read_clean(text: str, classes: Sequence[str] | None) -> Tracks | None:
    """The tracks of ``text`` when every row is good, by columns (a tenth of a second
    for 100,000 rows, against a second row by row); None as soon as anything is not,
    and :func:`read_tracks_csv` reads the file again row by row to say what and where
    (or to skip it). The checks are the row reader's, on whole columns."""
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
    except csv.Error:
        return None
    if not rows:
        return None
    header = [h.strip() for h in rows[0]]
    if any(c not in header for c in TRACK_COLUMNS if c != "class") or len(
            set(header)) != len(header):
        return None
    width = len(header)
    body = rows[1:]
    if any(len(r) != width for r in body):
        return None
    cols = list(zip(*body, strict=True)) if body else [()] * width
    at = {h: k for k, h in enumerate(header)}
    text_cols = []
    for c in ("id", "party", "class"):
        if c not in at:
            text_cols.append([DEFAULT_CLASS] * len(body))
            continue
        values = [v.strip() for v in cols[at[c]]]
        if c == "class":
            values = [v or DEFAULT_CLASS for v in values]
        elif not all(values):
            return None
        text_cols.append(values)
    if classes is not None and not set(text_cols[2]) <= set(classes):
        return None
    if len(set(text_cols[0])) != len(body):
        return None
    numbers: list[npt.NDArray[np.float64]] = []
    for c in _NUMERIC:
        try:
            column = np.array([float(v) for v in cols[at[c]]], dtype=np.float64)
        except ValueError:  # empty or not a number
            return None
        lo, hi = TRACK_RANGES[c]
        if not (np.isfinite(column).all() and ((column >= lo) & (column <= hi)).all()):
            return None
        numbers.append(column)
    if not body:
        return Tracks.empty()
    return Tracks(np.array(text_cols[0], dtype=np.str_), np.array(text_cols[1], dtype=np.str_),
                  np.array(text_cols[2], dtype=np.str_), *numbers)


#: from this many bytes a tracks CSV is parsed by pyarrow where it is installed (the
#: ``parquet`` extra): its parser is compiled and runs on all cores (100,000 rows of
#: 17-digit numbers: a tenth of a second against a second), but importing it costs more
#: than it saves on a small file
ARROW_FROM_BYTES = 2_000_000


def _read_arrow(text: str, classes: Sequence[str] | None) -> Tracks | None:
    """:func:`_read_clean`'s answer, its numbers parsed by pyarrow; None where pyarrow is
    absent or anything is out of the ordinary (quotes, carriage returns, a field that is
    not a plain number), and :func:`_read_clean` decides.

    Arrow converts decimal text to the nearest double (``fast_float``), as Python's
    ``float`` does, so the numbers are the same bits (tested against the row reader);
    a number Arrow cannot read (spaces, ``1_000``, an empty field) sends the file to
    :func:`_read_clean`, which reads what ``float`` reads."""
    if '"' in text or "\r" in text:
        return None
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow.csv as pacsv  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    first, _, _ = text.partition("\n")
    header = [h.strip() for h in first.split(",")]
    if any(c not in header for c in TRACK_COLUMNS if c != "class") or len(
            set(header)) != len(header):
        return None
    names = [f"c{k}" for k in range(len(header))]
    at = {h: k for k, h in enumerate(header)}
    types = {name: pa.string() for name in names}
    for c in _NUMERIC:
        types[names[at[c]]] = pa.float64()
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pacsv.ParseOptions(quote_char=False, double_quote=False,
                                             newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[],
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):  # a short or long row, a bad number
        return None
    n = table.num_rows
    text_cols = []
    for c in ("id", "party", "class"):
        if c not in at:
            text_cols.append([DEFAULT_CLASS] * n)
            continue
        values = [v.strip() for v in table.column(names[at[c]]).to_pylist()]
        if c == "class":
            values = [v or DEFAULT_CLASS for v in values]
        elif not all(values):
            return None
        text_cols.append(values)
    if classes is not None and not set(text_cols[2]) <= set(classes):
        return None
    if n == 0 or len(set(text_cols[0])) != n:
        return None
    numbers: list[npt.NDArray[np.float64]] = []
    for c in _NUMERIC:
        # The doubles straight from Arrow's buffers: ``to_numpy`` would import pandas
        # and pyarrow.compute (a third of a second) where pandas is installed.
        parts = []
        for chunk in table.column(names[at[c]]).chunks:
            if chunk.null_count:
                return None
            parts.append(np.frombuffer(chunk.buffers()[1], dtype=np.float64,
                                       count=len(chunk), offset=chunk.offset * 8))
        column = np.concatenate(parts) if parts else np.zeros(0)
        lo, hi = TRACK_RANGES[c]
        if not (np.isfinite(column).all() and ((column >= lo) & (column <= hi)).all()):
            return None
        numbers.append(column)
    return Tracks(np.array(text_cols[0], dtype=np.str_), np.array(text_cols[1], dtype=np.str_),
                  np.array(text_cols[2], dtype=np.str_), *numbers)


def read_tracks_csv(source: str | Path | TextIO, *, skip_bad: bool = False,
                    classes: Sequence[str] | None = None) -> TracksFile:
    """Read a tracks CSV.

    Bad rows (missing columns or values, non-numbers, NaN, latitude outside ±90, negative
    speed, duplicate ids, a class not in ``classes``) raise :class:`TrackDataError` naming
    the line and column, or with ``skip_bad`` are left out and listed in
    :attr:`TracksFile.skipped`. A file without the required columns always raises.
    """
    name = "<stream>"
    if isinstance(source, str | Path):
        name = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrackDataError(f"{name}: cannot read: {exc}") from None
        fast = _read_arrow(text, classes) if len(text) >= ARROW_FROM_BYTES else None
        if fast is None:
            fast = _read_clean(text, classes)
        if fast is not None:
            return TracksFile(fast, ())
        stream: TextIO = io.StringIO(text)
    else:
        stream = source
    reader = csv.DictReader(stream)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in TRACK_COLUMNS if c != "class" and c not in header]
        if missing:
            raise TrackDataError(f"{name}: line 1: missing column(s) {', '.join(missing)}; "
                                 f"expected header {','.join(TRACK_COLUMNS)}")
        rows: list[list[object]] = []
        skipped: list[BadRow] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if None in row:  # more fields than the header
                bad: BadRow | None = BadRow(line, "(end)", "more fields than the header has")
                values: list[object] = []
            elif any(v is None for v in row.values()):
                short = next(k for k, v in row.items() if v is None)
                bad, values = BadRow(line, short, "missing column (row too short)"), []
            else:
                values, bad = _check_row(row, line)
            if bad is None and classes is not None and values[2] not in classes:
                bad = BadRow(line, "class", f"unknown class {values[2]!r}; "
                                            f"classes are {', '.join(classes)}")
            if bad is None and str(values[0]) in seen:
                bad = BadRow(line, "id", f"duplicate id {values[0]!r} (first on line "
                                         f"{seen[str(values[0])]})")
            if bad is not None:
                if not skip_bad:
                    raise TrackDataError(f"{name}: {bad}")
                skipped.append(bad)
                continue
            seen[str(values[0])] = line
            rows.append(values)
    except csv.Error as exc:  # e.g. a field over the csv module's limit, a NUL byte
        raise TrackDataError(f"{name}: line {reader.line_num}: {exc}") from None
    tracks = Tracks.from_rows(rows) if rows else Tracks.empty()
    return TracksFile(tracks, tuple(skipped))


def write_tracks_csv(tracks: Tracks, out: TextIO) -> None:
    """Write tracks in the tracks CSV format (full float precision)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(TRACK_COLUMNS)
    for i in range(len(tracks)):
        w.writerow([tracks.id[i], tracks.party[i], tracks.aircraft_class[i]]
                   + [repr(float(getattr(tracks, c)[i])) for c in _NUMERIC])
