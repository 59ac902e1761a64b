"""``write_conflicts_csv`` given records (a list) and a binary stream, against the csv
module's own text of Python-formatted rows (``test_columns.py`` writes records to text
streams only), and ``write_conflicts_parquet``'s documented layout, written for
survivors of the detect group's mutation run."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from skyaccord.errors import InputError
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tactical.detect import (
    conflict_records,
    conflict_table,
    write_conflicts_csv,
    write_conflicts_parquet,
)

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


def test_parquet_layout_as_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    """The layout ``write_conflicts_parquet`` documents, read from the file's own
    metadata: ids and levels dictionary-encoded, no statistics on the id columns,
    statistics on the numbers, the level and same_party; the unrounded floats
    uncompressed, the rest snappy; no stored Arrow schema (the ids read back as plain
    strings). Without pyarrow: an ``InputError`` naming the path and the extra.

    Mutants killed: ``write_conflicts_parquet`` 101-104, 107-109, 112-121, 132-139 (a
    column's dictionary, statistics or compression changed, or ``store_schema``), 1-3
    (the message)."""
    pq = pytest.importorskip("pyarrow.parquet")
    tracks = random_picture(200, 34, 30.0, mixed=True)
    table = conflict_table(tracks, detect(tracks, ACCORD), ACCORD)
    assert len(table) > 20
    out = tmp_path / "c.parquet"
    write_conflicts_parquet(table, out)
    meta = pq.ParquetFile(out).metadata
    assert b"ARROW:schema" not in (meta.metadata or {})
    group = meta.row_group(0)
    columns = {group.column(c).path_in_schema: group.column(c) for c in range(group.num_columns)}
    numbers = ("t_in_s", "t_out_s", "tcpa_s", "dcpa_nm", "dz_ft")
    assert sorted(columns) == sorted(("id1", "id2", *numbers, "level", "same_party"))
    for name, col in columns.items():
        dictionary = col.has_dictionary_page
        assert dictionary == (name in ("id1", "id2", "level")), name
        assert col.is_stats_set == (name not in ("id1", "id2")), name
        assert col.compression == ("UNCOMPRESSED" if name in numbers else "SNAPPY"), name
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError) as refused:
        write_conflicts_parquet(table, tmp_path / "d.parquet")
    assert str(refused.value) == (f"{tmp_path / 'd.parquet'}: writing Parquet needs pyarrow: "
                                  "pip install 'skyaccord[parquet]'")
