"""``skyaccord.parquetfile``: a table of numpy columns read back as it was given (NaN as
null, strings by name, null for code -1), several batches as row groups, and the file
whole or absent."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skyaccord.errors import InputError
from skyaccord.parquetfile import ParquetColumnsWriter, Strings, write_parquet

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")


def test_columns_read_back_as_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1000
    x = rng.normal(size=n)
    x[::7] = np.nan
    x[1] = math.inf
    flags = rng.random(n) < 0.3
    names = ["é,x", "b", "", 'q"']
    codes = rng.integers(-1, len(names), n)
    out = tmp_path / "t.parquet"
    write_parquet({"x": x.astype(np.float32), "flag": flags, "s": Strings(names, codes),
                   "none": Strings([], np.full(n, -1))}, out)
    table = pq.read_table(out)
    assert [(f.name, f.type) for f in table.schema] == [
        ("x", pa.float64()), ("flag", pa.bool_()), ("s", pa.string()),
        ("none", pa.string())]
    got = table.to_pydict()
    want_x = [None if math.isnan(v) else v for v in x.astype(np.float32).astype(float)]
    assert got["x"] == want_x
    assert got["flag"] == flags.tolist()
    assert got["s"] == [None if c < 0 else names[c] for c in codes.tolist()]
    assert got["none"] == [None] * n


def test_batches_are_row_groups(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetColumnsWriter(out, {"t": "float", "id": "string"}) as w:
        w.write({"t": np.arange(3.0), "id": Strings(["a", "b"], np.array([0, 1, 0]))})
        w.write({"t": np.arange(0.0), "id": Strings([], np.zeros(0, dtype=int))})  # none
        w.write({"id": Strings(["c", "a", "d"], np.array([2, 0])), "t": np.array([5.0, 6.0])})
    assert w.rows == 5
    assert pq.ParquetFile(out).metadata.num_row_groups == 2
    assert pq.read_table(out).to_pydict() == {"t": [0.0, 1.0, 2.0, 5.0, 6.0],
                                              "id": ["a", "b", "a", "d", "c"]}


def test_bad_columns_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with pytest.raises(InputError, match="outside"):
        write_parquet({"s": Strings(["a"], np.array([0, 1]))}, out)
    with pytest.raises(InputError, match="lengths"):
        write_parquet({"a": np.zeros(2), "b": np.zeros(3)}, out)
    with pytest.raises(InputError, match="not a 1-d"):
        write_parquet({"a": np.zeros(2, dtype=np.int64)}, out)
    with pytest.raises(InputError, match="declared"), \
            ParquetColumnsWriter(out, {"a": "float"}) as w:
        w.write({"a": np.zeros(2, dtype=bool)})
    assert list(tmp_path.iterdir()) == []  # nothing left of the failed writes


def test_a_failure_leaves_what_was_there(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), ParquetColumnsWriter(out, {"a": "float"}) as w:
        w.write({"a": np.arange(10.0)})  # a row group in the temporary
        assert len(list(tmp_path.iterdir())) == 2
        raise RuntimeError("disk gone")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    write_parquet({"a": np.arange(3.0)}, out)  # and a write that succeeds replaces it
    assert pq.read_table(out).to_pydict() == {"a": [0.0, 1.0, 2.0]}
