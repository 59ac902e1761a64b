"""Parquet files written from named numpy columns: the ``--out FILE.parquet`` of
``detect``, ``decode`` and ``airspace check``.

A column is a float array (written as float64; NaN, which the CSVs leave empty, as
null), a bool array, or :class:`Strings` (a table of names and an index per row, -1 for
null, written as an Arrow dictionary: the writer keeps it instead of hashing every
row's string; ``store_schema=False``, so that it reads back as plain strings).

- pyarrow is optional (the ``parquet`` extra) and imported only when a file is written;
  without it :func:`require_pyarrow` and the writers raise :class:`InputError` naming
  the extra.
- Arrays are made from numpy's buffers: ``pa.array`` would import pandas and
  ``pyarrow.compute`` (a third of a second) wherever pandas is installed.
- The floats are not compressed (snappy finds nothing in unrounded doubles); strings
  and bools are (snappy).
- The file appears whole at its path or not at all: it is written beside it under a
  temporary name and renamed when closed, as the commands' CSVs are; a failure removes
  the temporary and leaves what was at the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from skyaccord.errors import InputError

__all__ = ["PARQUET_INSTALL", "ParquetColumnsWriter", "Strings", "require_pyarrow",
           "write_parquet"]

#: what to install for Parquet (named in the error when pyarrow is missing)
PARQUET_INSTALL: Final = "pip install 'skyaccord[parquet]'"


class Strings(NamedTuple):
    """A string column: ``names[codes[k]]`` for row ``k``, null where the code is -1."""

    names: Sequence[str]
    codes: npt.NDArray[np.integer[Any]]


#: a column: floats (float64 in the file, NaN as null), bools, or strings
Column = npt.NDArray[np.floating[Any]] | npt.NDArray[np.bool_] | Strings


def require_pyarrow(path: str | Path) -> Any:
    """``pyarrow.parquet`` (for writing ``path``), or :class:`InputError` naming the
    ``parquet`` extra when pyarrow cannot be imported."""
    try:
        import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise InputError(f"{path}: writing Parquet needs pyarrow: {PARQUET_INSTALL}") from None
    return pq


def write_parquet(columns: Mapping[str, Column], path: str | Path, *,
                  no_statistics: Collection[str] = ()) -> None:
    """Write ``columns`` (in their order, all of one length) to ``path`` as one Parquet
    table, whole or not at all. ``no_statistics``: columns written without min/max
    (those of millions of distinct strings cost half a large write)."""
    kinds = {name: _kind(name, col) for name, col in columns.items()}
    with ParquetColumnsWriter(path, kinds, no_statistics=no_statistics) as w:
        w.write(columns)


class ParquetColumnsWriter:
    """A Parquet file written a batch of columns at a time (each :meth:`write` a row
    group), that appears at ``path`` when the writer is closed without error (a
    ``with`` block) and not at all otherwise.

    ``kinds`` names the columns in order with their kinds: ``"float"``, ``"bool"`` or
    ``"string"`` (a :class:`Strings` column), so that a file of no rows has its columns.
    """

    def __init__(self, path: str | Path, kinds: Mapping[str, str], *,
                 no_statistics: Collection[str] = ()) -> None:
        pq = require_pyarrow(path)
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]

        bad = {k for k in kinds.values() if k not in _TYPES}
        if bad:
            raise InputError(f"column kinds are float, bool or string, not {sorted(bad)}")
        self._pa = pa
        self._kinds = dict(kinds)
        self.path = Path(path)
        self.rows = 0
        self._schema = pa.schema([(name, _TYPES[kind](pa))
                                  for name, kind in self._kinds.items()])
        strings = [n for n, k in self._kinds.items() if k == "string"]
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                         suffix=".tmp")
        os.close(fd)
        try:
            self._writer = pq.ParquetWriter(
                self._tmp, self._schema, use_dictionary=strings or False,
                write_statistics=[n for n in self._kinds if n not in no_statistics],
                compression={n: "none" if k == "float" else "snappy"
                             for n, k in self._kinds.items()},
                store_schema=False)
        except BaseException:
            self._remove()
            raise

    def write(self, columns: Mapping[str, Column]) -> int:
        """Append ``columns`` (the writer's, in any order; all of one length) as a row
        group; how many rows. No rows: nothing written."""
        if set(columns) != set(self._kinds):
            raise InputError(f"columns {sorted(columns)} are not the file's "
                             f"{sorted(self._kinds)}")
        lengths = {len(c.codes) if isinstance(c, Strings) else len(c)
                   for c in columns.values()}
        if len(lengths) > 1:
            raise InputError(f"columns of different lengths: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        if n == 0:
            return 0
        pa = self._pa
        arrays = []
        for name, kind in self._kinds.items():
            col = columns[name]
            if _kind(name, col) != kind:
                raise InputError(f"column {name!r}: a {kind} column was declared")
            arrays.append(_ARRAYS[kind](pa, col))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self.rows += n
        return n

    def close(self) -> None:
        """Finish the file and put it at its path."""
        try:
            self._writer.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self._remove()
            raise

    def abort(self) -> None:
        """Drop the file: nothing appears at the path, what was there stays."""
        with contextlib.suppress(Exception):
            self._writer.close()
        self._remove()

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)

    def __enter__(self) -> ParquetColumnsWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _kind(name: str, col: object) -> str:
    if isinstance(col, Strings):
        return "string"
    if isinstance(col, np.ndarray) and col.ndim == 1:
        if col.dtype == np.bool_:
            return "bool"
        if np.issubdtype(col.dtype, np.floating):
            return "float"
    raise InputError(f"column {name!r}: not a 1-d float or bool array nor Strings")


def _bits(mask: npt.NDArray[np.bool_]) -> Any:
    return np.packbits(mask, bitorder="little")  # Arrow's bitmaps: least significant first


def _floats(pa: Any, values: npt.NDArray[np.floating[Any]]) -> Any:
    v = np.ascontiguousarray(values, dtype=np.float64)
    nan = np.isnan(v)
    nulls = int(nan.sum())
    valid = pa.py_buffer(_bits(~nan)) if nulls else None
    return pa.Array.from_buffers(pa.float64(), len(v), [valid, pa.py_buffer(v)],
                                 null_count=nulls)


def _bools(pa: Any, values: npt.NDArray[np.bool_]) -> Any:
    bits = _bits(np.asarray(values, dtype=np.bool_))
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _dictionary(pa: Any, col: Strings) -> Any:
    codes = np.asarray(col.codes)
    if len(codes) and (int(codes.max()) >= len(col.names) or int(codes.min()) < -1):
        raise InputError(f"string codes outside -1..{len(col.names) - 1}")
    missing = codes < 0
    nulls = int(missing.sum())
    index = np.ascontiguousarray(np.where(missing, 0, codes) if nulls else codes,
                                 dtype=np.int32)
    valid = pa.py_buffer(_bits(~missing)) if nulls else None
    indices = pa.Array.from_buffers(pa.int32(), len(index), [valid, pa.py_buffer(index)],
                                    null_count=nulls)
    # a null's index 0 must name something, even when no row has a name
    names = list(col.names) or [""]
    return pa.DictionaryArray.from_arrays(indices, _arrow_strings(pa, names))


def _arrow_strings(pa: Any, values: Sequence[str]) -> Any:
    """A pyarrow string array of ``values`` from its UTF-8 bytes and offsets."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
              out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise InputError("strings of a column over 2 GiB")
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [None, pa.py_buffer(offsets.astype(np.int32)),
                                  pa.py_buffer(b"".join(encoded))])


_TYPES: Final = {
    "float": lambda pa: pa.float64(),
    "bool": lambda pa: pa.bool_(),
    "string": lambda pa: pa.dictionary(pa.int32(), pa.string()),
}
_ARRAYS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "float": _floats, "bool": _bools, "string": _dictionary}
