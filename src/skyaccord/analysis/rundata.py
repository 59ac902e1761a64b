"""A recorded run directory (:mod:`skyaccord.sim.run`) read back as typed values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError
from skyaccord.geo import FT
from skyaccord.protocol import Accord, load_accord

__all__ = ["Run", "TrackGrid", "load_run"]

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
        overdue = json.loads((p / "overdue.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{p}: not a readable run directory ({exc})") from None
    aircraft = {a["id"]: a for a in meta["aircraft"]}
    ids = [a["id"] for a in meta["aircraft"]]
    grid = TrackGrid.from_columns(cols["t"], cols["row"], ids, cols)
    return Run(p, meta, accord, grid, aircraft, alerts, messages, intents, warnings,
               operators, overdue)
