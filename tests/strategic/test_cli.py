from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.strategic.codec import intent_from_f3548, intent_to_f3548, load_intent_file

runner = CliRunner()


def feature(id_: str, party: str, lon: float = 38.5, alt: tuple[float, float] = (10000, 12000),
            start: str = "2025-06-01T10:00:00Z", end: str = "2025-06-01T11:00:00Z",
            **extra: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
            "properties": {"id": id_, "party": party, "radius_m": 2000, "alt_lower_ft": alt[0],
                           "alt_upper_ft": alt[1], "time_start": start, "time_end": end,
                           **extra}}


def write(tmp: Path, name: str, doc: dict[str, Any]) -> str:
    p = tmp / name
    p.write_text(json.dumps(doc))
    return str(p)


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_submit_conflict_list_show_end(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    a = write(tmp_path, "a.json", feature("a", "us"))
    b = write(tmp_path, "b.json", feature("b", "ru", lon=38.55))
    r = run("intents", "submit", a, "--db", db)
    assert r.exit_code == 0, r.output
    assert "accepted a version 1" in r.output
    r = run("intents", "check", b, "--db", db)
    assert r.exit_code == 3, r.output
    # the table's row of a: intent, party, version, priority, blocking, volume pairs
    assert re.search(r"^ *a +us +1 +0 +yes +0/0 *$", r.output, re.M), r.output
    assert "delay: 3600 s" in r.output
    r = run("intents", "submit", b, "--db", db)
    assert r.exit_code == 3, r.output
    assert "conflicting intents: a" in r.output
    assert "delay: 3600 s" in r.output  # a ends at 11:00, b would start at 10:00
    assert "altitude change: +3000 ft" in r.output  # 12,000 + 1,000 ft above a's top
    r = run("intents", "list", "--db", db)
    assert r.exit_code == 0 and " a " in r.output and " b " not in r.output
    r = run("intents", "show", "a", "--db", db, "--format", "f3548")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["reference"]["id"] == "a" and doc["reference"]["version"] == 1
    r = run("intents", "end", "a", "--db", db, "--party", "us")
    assert r.exit_code == 0 and "ended a version 2" in r.output
    r = run("intents", "submit", b, "--db", db)
    assert r.exit_code == 0, r.output


def test_submit_f3548_file_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    a = write(tmp_path, "a.json", {"type": "FeatureCollection", "features": [
        feature("multi", "us"), feature("multi", "us", lon=38.7,
                                        start="2025-06-01T11:00:00Z",
                                        end="2025-06-01T12:00:00Z")]})
    it = load_intent_file(Path(a))
    assert len(it.volumes) == 2
    f = write(tmp_path, "f.json", intent_to_f3548(it))
    assert run("intents", "submit", f, "--db", db).exit_code == 0
    r = run("intents", "show", "multi", "--db", db, "--format", "f3548")
    back = intent_from_f3548(json.loads(r.stdout))
    assert back.volumes == it.volumes and back.version == 1


@pytest.mark.parametrize(("doc", "match"), [
    ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
        [38.0, 35.0], [38.1, 35.1], [38.1, 35.0], [38.0, 35.1], [38.0, 35.0]]]},
      "properties": {"id": "p", "party": "us", "alt_lower_ft": 0, "alt_upper_ft": 100,
                     "time_start": "2025-06-01T10:00:00Z",
                     "time_end": "2025-06-01T11:00:00Z"}}, "Self-intersection"),
    (feature("a", "us", alt=(5000, 1000)), "alt_lower_ft 5000.0 must be below"),
    (feature("a", "us", start="2025-06-01T12:00:00Z"), "time_start .* must be before"),
    (feature("a", "us", start="2025-06-01T10:00:00"), "has no UTC offset"),
    (feature("a", "xx"), "no party 'xx'"),
    (feature("a", "us", **{"class": "balloon"}), "unknown aircraft class 'balloon'"),
    (feature("a", "us", colour="red"), "unknown properties \\['colour'\\]"),
])
def test_bad_input_exits_2(tmp_path: Path, doc: dict[str, Any], match: str) -> None:
    f = write(tmp_path, "bad.json", doc)
    r = run("intents", "submit", f, "--db", str(tmp_path / "r.db"))
    assert r.exit_code == 2
    import re

    assert re.search(match, " ".join(r.output.split())), r.output


def test_invalid_json_names_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{"type": "Feature",\n "geometry": }')
    r = run("intents", "check", str(p), "--db", str(tmp_path / "r.db"))
    assert r.exit_code == 2 and "line 2" in r.output


def test_overlap_command(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", feature("a", "us"))
    b = write(tmp_path, "b.json", feature("b", "ru", lon=38.55))
    r = run("intents", "overlap", a, b)
    assert r.exit_code == 0, r.output
    assert "both sides agree: True" in r.output
    c = write(tmp_path, "c.json", feature("c", "ru", lon=39.5))
    r = run("intents", "overlap", a, c)
    assert "shared: 0" in r.output


def test_notices_after_a_higher_priority_submit(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    a = write(tmp_path, "a.json", feature("a", "us"))
    hi = write(tmp_path, "hi.json", feature("hi", "ru", lon=38.55, priority=2))
    assert run("intents", "submit", a, "--db", db).exit_code == 0
    r = run("intents", "notices", "--db", db)
    assert r.exit_code == 0 and " a " not in r.output
    r = run("intents", "submit", hi, "--db", db, "--key", "a:1")
    assert r.exit_code == 0, r.output
    r = run("intents", "notices", "--db", db, "--party", "us")
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if " a " in line)
    assert all(w in row.split() for w in ("1", "a", "us", "hi", "ru", "2", "0:0"))
    r = run("intents", "notices", "--db", db, "--party", "ru")
    assert r.exit_code == 0 and " a " not in r.output


def test_main_maps_errors_to_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Through ``skyaccord.cli.main`` (the installed command's entry point): 0 accepted,
    3 refused for a conflict, 1 a store that cannot be opened, 2 a bad input file."""
    from skyaccord.cli import main

    db = str(tmp_path / "r.db")
    a = write(tmp_path, "a.json", feature("a", "us"))
    b = write(tmp_path, "b.json", feature("b", "ru", lon=38.55))
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)

    def code(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["skyaccord", *args])
        with pytest.raises(SystemExit) as exc:
            main()
        out = capsys.readouterr()
        c = exc.value.code
        return (c if isinstance(c, int) else 0 if c is None else 1), out.out, out.err

    rc, out, _ = code("intents", "submit", a, "--db", db)
    assert (rc, out.strip()) == (0, "accepted a version 1")
    rc, out, _ = code("intents", "submit", b, "--db", db)
    assert rc == 3 and "refused (conflict): b" in out
    rc, _, err = code("intents", "submit", a, "--db", str(junk))
    assert rc == 1 and "junk.db" in err and "not a database" in err
    rc, _, err = code("intents", "submit", str(tmp_path / "missing.json"), "--db", db)
    assert rc == 2 and "missing.json" in err
