"""Without pyarrow (the default install), a large tracks CSV is read by the Python
readers, with the same answer as the row reader (a real process in which pyarrow cannot
be imported)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from skyaccord.tracks import TRACK_COLUMNS, read_tracks_csv
from tests.test_tracks_reader import CLASSES, csv_text, good_rows

_READ = """
import json, sys
sys.modules["pyarrow"] = None
from skyaccord import tracks
tracks.ARROW_FROM_BYTES = 0
t = tracks.read_tracks_csv(sys.argv[1], classes=("manned", "unmanned", "civil")).tracks
assert "pyarrow" not in [m for m in sys.modules if sys.modules[m] is not None]
print(json.dumps([t.id.tolist(), t.aircraft_class.tolist(), t.lat.tolist(), t.vs_fpm.tolist()]))
"""


def test_large_file_without_pyarrow(tmp_path: Path) -> None:
    rows = good_rows(random.Random(4), 300)
    path = tmp_path / "t.csv"
    path.write_text(csv_text(list(TRACK_COLUMNS), rows), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", _READ, str(path)], capture_output=True,
                          text=True, timeout=120, check=True)
    got = json.loads(done.stdout)
    with path.open() as fh:
        ref = read_tracks_csv(fh, classes=CLASSES).tracks  # a stream: the row reader
    assert got == [ref.id.tolist(), ref.aircraft_class.tolist(), ref.lat.tolist(),
                   ref.vs_fpm.tolist()]
