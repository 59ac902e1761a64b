"""pandas DataFrames in and out: a picture from a frame, tracks and conflicts to frames.

Needs the ``pandas`` extra (``pip install 'skyaccord[pandas]'``); this module imports
pandas only when one of its functions runs, and without it they raise
:class:`~skyaccord.errors.InputError` saying how to install it.

A tracks frame has the columns of the tracks CSV (:data:`~skyaccord.tracks.TRACK_COLUMNS`:
``id``, ``party``, ``class`` (optional: ``manned``), ``lat``, ``lon`` (WGS84 degrees),
``alt_ft``, ``gs_kt``, ``trk_deg``, ``vs_fpm``), one row per aircraft; other columns are
ignored. Frames from ``traffic`` use its own names: ``columns=TRAFFIC_COLUMNS`` reads them
(its units are already feet, knots, degrees and ft/min) once a ``party`` column is added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from skyaccord.errors import InputError, TrackDataError
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import CONFLICT_COLUMNS, PairConflicts, conflict_table
from skyaccord.tracks import TRACK_COLUMNS, TRACK_RANGES, Tracks

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "TRAFFIC_COLUMNS",
    "conflicts_to_frame",
    "tracks_from_frame",
    "tracks_to_frame",
]

#: ``traffic``'s column names (its ``Flight.data``: ``icao24``, ``latitude``,
#: ``longitude``, ``altitude`` in ft, ``groundspeed`` in kt, ``track`` in degrees,
#: ``vertical_rate`` in ft/min) mapped to the tracks columns, for ``columns=``.
TRAFFIC_COLUMNS: dict[str, str] = {
    "icao24": "id",
    "latitude": "lat",
    "longitude": "lon",
    "altitude": "alt_ft",
    "groundspeed": "gs_kt",
    "track": "trk_deg",
    "vertical_rate": "vs_fpm",
}

_TEXT = ("id", "party", "class")
_NUMERIC = ("lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise InputError("DataFrames need pandas: pip install 'skyaccord[pandas]'") from None
    return pandas


def _where(frame: pd.DataFrame, i: int) -> str:
    label = frame.index[i:i + 1].tolist()[0]  # a Python value: its repr reads plainly
    return f"row {i}" + ("" if label == i else f" (index {label!r})")


def tracks_from_frame(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                      classes: Sequence[str] | None = None) -> Tracks:
    """The tracks of ``frame`` (one row per aircraft), checked as a tracks CSV is.

    Parameters
    ----------
    frame
        A DataFrame with the tracks columns (module docstring).
    columns
        Renames applied first, ``{frame's name: tracks column}`` (e.g.
        :data:`TRAFFIC_COLUMNS`).
    classes
        The accord's aircraft classes; a row of another class is refused.

    Returns
    -------
    Tracks
        The rows in frame order.

    Raises
    ------
    TrackDataError
        Naming the column (and row) at fault: a missing column, a missing value, text
        where a number belongs, a value outside :data:`~skyaccord.tracks.TRACK_RANGES`,
        an unknown class, a duplicate id.
    """
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TrackDataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if columns:
        frame = frame.rename(columns=dict(columns))
    names = [str(c) for c in frame.columns]
    missing = [c for c in TRACK_COLUMNS if c != "class" and c not in names]
    if missing:
        raise TrackDataError(f"frame: missing column(s) {', '.join(missing)}; "
                             f"expected columns {','.join(TRACK_COLUMNS)}")
    twice = sorted({c for c in names if c in TRACK_COLUMNS and names.count(c) > 1})
    if twice:
        raise TrackDataError(f"frame: column(s) {', '.join(twice)} appear more than once")
    n = len(frame)
    text: dict[str, np.ndarray[Any, Any]] = {}
    for col in _TEXT:
        if col not in names:  # only "class" may be absent, as in the CSV
            text[col] = np.full(n, "manned")
            continue
        series = frame[col]
        values = np.array([("" if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                            else str(v).strip()) for v in series.tolist()], dtype=np.str_)
        if col == "class":
            values = np.where(values == "", "manned", values)
        empty = np.flatnonzero(np.char.str_len(values) == 0) if n else np.zeros(0, int)
        if len(empty):
            raise TrackDataError(f"frame: {_where(frame, int(empty[0]))}: column {col!r}: "
                                 "missing value")
        text[col] = values
    numbers: dict[str, np.ndarray[Any, Any]] = {}
    for col in _NUMERIC:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series.dtype):
            raise TrackDataError(f"frame: column {col!r} holds booleans, not numbers")
        absent = series.isna().to_numpy()
        if absent.any():
            raise TrackDataError(f"frame: {_where(frame, int(np.argmax(absent)))}: column "
                                 f"{col!r}: missing value")
        coerced = pd.to_numeric(series, errors="coerce")
        bad = coerced.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise TrackDataError(f"frame: {_where(frame, i)}: column {col!r}: not a number: "
                                 f"{series.iloc[i]!r}")
        values = coerced.to_numpy(dtype=np.float64)
        lo, hi = TRACK_RANGES[col]
        out = ~np.isfinite(values) | (values < lo) | (values > hi)
        if out.any():
            i = int(np.argmax(out))
            raise TrackDataError(f"frame: {_where(frame, i)}: column {col!r}: "
                                 f"{float(values[i])!r} outside [{lo:g}, {hi:g}]")
        numbers[col] = values
    ids = text["id"]
    order = np.argsort(ids, kind="stable")
    dup = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if len(dup):  # the first repeat in frame order, and where its id first appeared
        later = order[dup + 1]
        k = int(np.argmin(later))
        first = int(order[dup[k]])
        raise TrackDataError(f"frame: {_where(frame, int(later[k]))}: column 'id': duplicate "
                             f"id {str(ids[first])!r} (first in {_where(frame, first)})")
    if classes is not None:
        unknown = ~np.isin(text["class"], np.asarray(list(classes), dtype=np.str_))
        if unknown.any():
            i = int(np.argmax(unknown))
            raise TrackDataError(f"frame: {_where(frame, i)}: column 'class': unknown class "
                                 f"{str(text['class'][i])!r}; classes are {', '.join(classes)}")
    tracks = Tracks(text["id"], text["party"], text["class"], numbers["lat"], numbers["lon"],
                    numbers["alt_ft"], numbers["gs_kt"], numbers["trk_deg"], numbers["vs_fpm"])
    tracks.validate()  # the checks of Tracks.from_rows, all done above with clearer words
    return tracks


def tracks_to_frame(tracks: Tracks) -> pd.DataFrame:
    """``tracks`` as a DataFrame with the tracks CSV's columns, in its order
    (:data:`~skyaccord.tracks.TRACK_COLUMNS`): text columns of ``str``, numbers float64.
    """
    pd = _pandas()
    data = {"id": tracks.id.tolist(), "party": tracks.party.tolist(),
            "class": tracks.aircraft_class.tolist()}
    data.update({col: getattr(tracks, col) for col in _NUMERIC})
    return pd.DataFrame(data, columns=list(TRACK_COLUMNS))


def conflicts_to_frame(tracks: Tracks, conflicts: PairConflicts, accord: Accord
                       ) -> pd.DataFrame:
    """``detect``'s conflicts as a DataFrame: what ``skyaccord detect`` writes.

    Columns :data:`~skyaccord.tactical.detect.CONFLICT_COLUMNS` (``id1 < id2`` as
    strings, times in s, ``dcpa_nm``, ``dz_ft``, ``t_out_s`` ``inf`` when the loss never
    ends along straight lines; numbers unrounded) and ``same_party`` (bool); rows sorted
    by ``(t_in_s, id1, id2)``. ``level`` is an ordered categorical of the accord's level
    names, least severe first, so ``frame[frame.level >= "corrective"]`` selects by
    severity.
    """
    pd = _pandas()
    table = conflict_table(tracks, conflicts, accord)
    data: dict[str, Any] = {"id1": table.ids[table.id1].tolist(),
                            "id2": table.ids[table.id2].tolist()}
    for col in CONFLICT_COLUMNS[2:-1]:
        data[col] = getattr(table, col)
    data["level"] = pd.Categorical.from_codes(table.level.astype(np.int64),
                                              categories=list(table.level_names),
                                              ordered=True)
    data["same_party"] = table.same_party
    return pd.DataFrame(data, columns=[*CONFLICT_COLUMNS, "same_party"])
