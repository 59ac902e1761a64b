"""``write_conflicts_csv`` given records (a list) and a binary stream, against the csv
module's own text of Python-formatted rows (``test_columns.py`` writes records to text
streams only), written for a survivor of the detect group's mutation run."""

from __future__ import annotations

import io

from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tactical.detect import conflict_records, write_conflicts_csv

from .test_columns import awkward_ids, csv_module_text, python_rows
from .test_detect import random_picture

ACCORD = default_accord()


def test_records_to_a_binary_stream_are_utf8_csv() -> None:
    """Records (ids to quote, non-ASCII ids) written to a ``BytesIO``: the csv module's
    text of the same rows, encoded in UTF-8.

    Mutant killed: ``detect._write_text`` 2 (``out.write(None)`` for a binary stream)."""
    tracks = awkward_ids(random_picture(120, 33, 20.0, mixed=True, classes=True))
    expected = csv_module_text(python_rows(tracks))
    assert '"A,' in expected and "α" in expected
    binary = io.BytesIO()
    write_conflicts_csv(conflict_records(tracks, detect(tracks, ACCORD), ACCORD), binary)
    assert binary.getvalue() == expected.encode("utf-8")
