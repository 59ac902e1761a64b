"""What a party sees of another's intents on the command line (issue 18): with
``--as PARTY``, its own whole and others' as volumes only, under the same opaque
reference as the node's API; the reference is checked against a SHA-256 computed here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from skyaccord.protocol import default_accord
from tests.strategic.test_cli_retry import intent_file, run


def test_as_party_shows_others_as_volumes_only(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    for id_, party, cls, priority, lon in (("us-cap", "us", "manned", 3, 38.0),
                                           ("ru-strike-7", "ru", "unmanned", 9, 39.0)):
        assert run("intents", "submit", intent_file(tmp_path, id_, party, priority, lon, cls),
                   "--db", db).exit_code == 0
    whole = run("intents", "list", "--db", db)
    assert "ru-strike-7" in whole.output and "unmanned" in whole.output
    seen = run("intents", "list", "--db", db, "--as", "us")
    assert seen.exit_code == 0, seen.output
    assert "us-cap" in seen.output and "ru-strike-7" not in seen.output
    assert "unmanned" not in seen.output  # the class of ru's aircraft is its own
    ref = hashlib.sha256(f"{default_accord().sha256}\0ru\0ru-strike-7".encode()
                         ).hexdigest()[:16]
    row = next(ln for ln in seen.output.splitlines() if ref in ln)
    assert row.split()[:3] == [ref, "ru", "1"]
    assert "2025-06-01T10:00:00Z/11:00:00Z" in row  # the window is shared
    # show: another party's id is answered as an unknown one, confirming nothing
    theirs = run("intents", "show", "ru-strike-7", "--db", db, "--as", "us")
    unknown = run("intents", "show", "no-such", "--db", db, "--as", "us")
    assert theirs.exit_code == 2 and "ru-strike-7" not in theirs.stdout
    assert theirs.output.replace("ru-strike-7", "X") == unknown.output.replace(
        "no-such", "X")
    own = run("intents", "show", "us-cap", "--db", db, "--as", "us")
    assert own.exit_code == 0 and json.loads(own.stdout)["features"][0]["properties"][
        "id"] == "us-cap"
