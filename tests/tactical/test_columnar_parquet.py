"""``write_conflicts_parquet`` writes the table's rows as they are: plain string and
number columns (the id dictionaries it uses to write fast do not show in the schema),
floats unrounded, levels by name, statistics on the numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyaccord.protocol import default_accord
from skyaccord.tactical.detect import (
    CONFLICT_COLUMNS,
    conflict_table,
    detect,
    write_conflicts_parquet,
)
from tests.tactical.test_detect import random_picture

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")


def test_parquet_rows_types_and_statistics(tmp_path: Path) -> None:
    accord = default_accord()
    tracks = random_picture(1500, 21, 80.0, mixed=True, classes=True)
    table = conflict_table(tracks, detect(tracks, accord), accord)
    assert len(table) > 500 and len(set(table.level.tolist())) > 1
    out = tmp_path / "c.parquet"
    write_conflicts_parquet(table, out)
    got = pq.read_table(out)
    assert got.schema.names == [*CONFLICT_COLUMNS, "same_party"]
    for name in ("id1", "id2", "level"):
        assert got.schema.field(name).type == pa.string(), name
    assert got.schema.field("same_party").type == pa.bool_()
    records = table.records()
    rows = got.to_pydict()
    for k, name in enumerate(CONFLICT_COLUMNS):
        assert rows[name] == [r[k] for r in records], name  # floats equal: unrounded
    assert rows["same_party"] == [r.same_party for r in records]
    meta = pq.ParquetFile(out).metadata.row_group(0)
    stats = {meta.column(c).path_in_schema: meta.column(c).statistics
             for c in range(meta.num_columns)}
    t_in = stats["t_in_s"]
    assert t_in is not None and t_in.has_min_max
    assert t_in.max == pytest.approx(float(np.max(table.t_in_s)))


_PROBE = """
import sys
from skyaccord.protocol import default_accord
from skyaccord.tactical.detect import conflict_table, detect, write_conflicts_parquet
from tests.tactical.test_detect import random_picture
accord = default_accord()
tracks = random_picture(300, 3, 30.0, mixed=True)
write_conflicts_parquet(conflict_table(tracks, detect(tracks, accord), accord), sys.argv[1])
print(sorted(m for m in ("pandas", "pyarrow.compute") if m in sys.modules))
"""


def test_parquet_writer_leaves_pandas_unimported(tmp_path: Path) -> None:
    """Arrays from numpy's buffers: ``pa.array`` would import pandas and pyarrow.compute
    (a third of a second of a 100k run) wherever pandas is installed."""
    import subprocess
    import sys

    out = tmp_path / "c.parquet"
    done = subprocess.run([sys.executable, "-c", _PROBE, str(out)], capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert pq.read_table(out).num_rows > 0
