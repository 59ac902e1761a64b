"""A recorded run directory, written and read back as typed values.

Two kinds of run write one: a simulated run (:mod:`skyaccord.sim.run`: every file of
its ``RUN_FILES``) and a replay of a recorded surveillance feed (``skyaccord replay
--record``: ``run.json`` with ``"kind": "replay"``, the accord, the tracks played, the
alerts and incursions found, the zones watched; no line, so no messages, intents,
warnings nor overdue list). The tracks files are written here for both
(:func:`write_tracks`), and a replay's directory appears whole or not at all
(:func:`new_run_dir`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError
from skyaccord.geo import FT
from skyaccord.protocol import Accord, load_accord

__all__ = ["TRACKS_CSV_HEADER", "TRACK_COLUMNS", "Run", "TrackGrid", "check_new_run_dir",
           "load_run", "new_run_dir", "write_jsonl", "write_tracks"]

#: the columns of ``tracks.npz``: ``row`` indexes the run's aircraft (``run.json``)
TRACK_COLUMNS: Final = ("t", "row", "x_m", "y_m", "lat", "lon", "alt_ft", "gs_kt",
                        "trk_deg", "vs_fpm")
#: the header of ``tracks.csv`` (``skyaccord replay --format tracks`` reads it)
TRACKS_CSV_HEADER: Final = "t,id,party,class,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm\n"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackGrid:
    """Every aircraft's recorded state on the run's common times: ``(T, N)`` arrays,
    NaN where an aircraft was not airborne (or not reported)."""

    t: FloatArray
    """(T,) UTC seconds"""
    ids: list[str]
    x_m: FloatArray
    y_m: FloatArray
    z_m: FloatArray
    lat: FloatArray
    lon: FloatArray
    vx_m_s: FloatArray
    vy_m_s: FloatArray

    @classmethod
    def from_columns(cls, t: FloatArray, row: npt.NDArray[np.int32], ids: list[str],
                     cols: dict[str, FloatArray]) -> TrackGrid:
        times, ti = np.unique(t, return_inverse=True)
        shape = (len(times), len(ids))

        def grid(v: FloatArray) -> FloatArray:
            g = np.full(shape, np.nan)
            g[ti, row] = v
            return g

        trk = np.radians(cols["trk_deg"])
        gs = cols["gs_kt"] * (1852.0 / 3600.0)
        return cls(times, ids, grid(cols["x_m"]), grid(cols["y_m"]),
                   grid(cols["alt_ft"] * FT), grid(cols["lat"]), grid(cols["lon"]),
                   grid(gs * np.sin(trk)), grid(gs * np.cos(trk)))


@dataclass(frozen=True)
class Run:
    """What ``skyaccord report`` reads from a run directory."""

    path: Path
    meta: dict[str, Any]
    accord: Accord
    grid: TrackGrid
    aircraft: dict[str, dict[str, Any]]
    alerts: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    operators: list[dict[str, Any]]
    overdue: dict[str, list[dict[str, Any]]]

    @property
    def parties(self) -> list[str]:
        return list(self.meta["parties"])

    @property
    def kind(self) -> str:
        """``"run"`` (a simulated run) or ``"replay"`` (a recorded feed played)."""
        return str(self.meta.get("kind", "run"))

    @property
    def has_line(self) -> bool:
        """Whether the run had a line (messages, intents, warnings, overdue lists): a
        replay of a surveillance feed has none, so the figures that need it do not
        apply (they are not zero)."""
        return bool(self.meta.get("line", self.kind == "run"))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_run(path: str | Path) -> Run:
    """Read a run directory; a missing or broken file is named in the error."""
    p = Path(path)
    try:
        meta = json.loads((p / "run.json").read_text(encoding="utf-8"))
        accord = load_accord(p / "accord.toml")
        with np.load(p / "tracks.npz") as z:
            cols = {k: np.asarray(z[k]) for k in z.files}
        alerts = _jsonl(p / "alerts.jsonl")
        messages = _jsonl(p / "messages.jsonl")
        intents = _jsonl(p / "intents.jsonl")
        warnings = _jsonl(p / "warnings.jsonl")
        operators = _jsonl(p / "operators.jsonl")
        line = bool(meta.get("line", meta.get("kind", "run") == "run"))
        # a run without a line (a replay) has no overdue list; a run with one must
        overdue = (json.loads((p / "overdue.json").read_text(encoding="utf-8"))
                   if line or (p / "overdue.json").exists() else {})
        aircraft = {a["id"]: a for a in meta["aircraft"]}
        ids = [a["id"] for a in meta["aircraft"]]
        grid = TrackGrid.from_columns(cols["t"], cols["row"], ids, cols)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"{p}: not a readable run directory ({exc})") from None
    return Run(p, meta, accord, grid, aircraft, alerts, messages, intents, warnings,
               operators, overdue)


def write_tracks(out: Path, cols: Mapping[str, npt.NDArray[Any]],
                 labels: Sequence[tuple[str, str, str]]) -> None:
    """``tracks.npz`` (the :data:`TRACK_COLUMNS`) and ``tracks.csv`` in ``out``.

    ``labels[row]`` is the ``(id, party, class)`` of aircraft ``row`` (the order of
    ``run.json``'s ``aircraft``). The CSV has the same states with their times:
    ``skyaccord replay RUN/tracks.csv --format tracks`` plays them through a picture and
    detection again.
    """
    arrays = {k: (np.asarray(cols[k]).astype(np.int32) if k == "row"
                  else np.asarray(cols[k], dtype=np.float64)) for k in TRACK_COLUMNS}
    np.savez_compressed(out / "tracks.npz", **arrays)  # type: ignore[arg-type]
    with (out / "tracks.csv").open("w", encoding="utf-8") as f:
        f.write(TRACKS_CSV_HEADER)
        t, row, lat, lon = arrays["t"], arrays["row"], arrays["lat"], arrays["lon"]
        alt, gs, trk, vs = arrays["alt_ft"], arrays["gs_kt"], arrays["trk_deg"], arrays["vs_fpm"]
        for k in range(len(t)):
            ident, party, cls = labels[int(row[k])]
            f.write(f"{t[k]:.1f},{ident},{party},{cls},{lat[k]:.6f},{lon[k]:.6f},"
                    f"{alt[k]:.1f},{gs[k]:.1f},{trk[k]:.2f},{vs[k]:.0f}\n")


def write_jsonl(path: Path, items: Iterable[Mapping[str, Any]]) -> int:
    """One compact JSON object a line; how many."""
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, separators=(",", ":")) + "\n")
            n += 1
    return n


def check_new_run_dir(path: Path) -> None:
    """Refuse a run directory that cannot be made whole: one that exists and is not an
    empty directory, or whose parent is missing or not writable (:class:`InputError`)."""
    if path.exists() or path.is_symlink():
        if not path.is_dir() or path.is_symlink():
            raise InputError(f"{path}: exists and is not a directory; choose a new run "
                             "directory")
        if any(path.iterdir()):
            raise InputError(f"{path}: exists and is not empty; choose a new run directory")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise InputError(f"{path}: no directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: {parent} is not writable")


@contextlib.contextmanager
def new_run_dir(path: Path) -> Iterator[Path]:
    """A temporary directory beside ``path``, renamed to ``path`` when the block ends
    (over an empty directory there), removed when the block fails: the run directory
    appears whole or not at all. Checked first by :func:`check_new_run_dir`; a failure
    to write is an :class:`OSError`."""
    check_new_run_dir(path)
    path = path.absolute()
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        # the permissions of a directory made by mkdir (mkdtemp's are the owner's only)
        umask = os.umask(0o022)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        yield tmp
        if path.is_dir():
            path.rmdir()  # empty (checked): the rename takes its place
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
