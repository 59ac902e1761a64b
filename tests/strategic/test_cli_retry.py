"""A retry is not a new request (issue 18): ``intents submit`` rerun with the same
``--request-id`` gets the first answer, whatever was accepted in the area since.

The defect: the command read the area's versions before each submit and those versions
entered the request's digest, so after a higher-priority intent was accepted over ours the
retry's digest differed and it exited 2 ("request id already used for another request").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from skyaccord.cli import app

runner = CliRunner()


def intent_file(tmp: Path, id_: str, party: str, priority: int, lon: float,
                cls: str = "manned") -> str:
    """An intent file: a 2 km circle at (35 N, ``lon``), 10,000–12,000 ft, 10–11 UTC."""
    doc = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
           "properties": {"id": id_, "party": party, "class": cls, "priority": priority,
                          "radius_m": 2000, "alt_lower_ft": 10000, "alt_upper_ft": 12000,
                          "time_start": "2025-06-01T10:00:00Z",
                          "time_end": "2025-06-01T11:00:00Z"}}
    p = tmp / f"{id_}.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_retry_after_a_higher_priority_intent_gets_the_first_answer(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    ours = intent_file(tmp_path, "ours", "us", 0, 38.5)
    first = run("intents", "submit", ours, "--db", db, "--request-id", "req-1")
    assert first.exit_code == 0 and "accepted ours version 1" in first.output, first.output
    theirs = intent_file(tmp_path, "theirs", "ru", 10, 38.52)
    over = run("intents", "submit", theirs, "--db", db)
    assert over.exit_code == 0, over.output
    assert "conflicts with lower-priority intents" in over.output  # accepted over ours
    retry = run("intents", "submit", ours, "--db", db, "--request-id", "req-1")
    assert retry.exit_code == 0, retry.output
    assert "accepted ours version 1 (replayed)" in retry.output
    # the id still names one request: another intent under it is refused
    other = intent_file(tmp_path, "other", "us", 0, 39.5)
    reused = run("intents", "submit", other, "--db", db, "--request-id", "req-1")
    assert reused.exit_code == 2 and "already used for another request" in reused.output
    # without a request id, the same file is a new write: stale (version 0 of an intent
    # at version 1), not a replay
    again = run("intents", "submit", ours, "--db", db)
    assert again.exit_code == 3 and "refused" in again.output, again.output
