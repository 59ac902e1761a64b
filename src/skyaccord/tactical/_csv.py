"""CSV formatting by columns: strings by code into a table, numbers as Python's
``f"{x:.{digits}f}"`` writes them, byte for byte.

Large outputs are formatted block by block by a compiled loop
(:mod:`skyaccord.tactical._csv_compiled`, on two threads); small ones, or when numba is
not loaded yet (loading it costs about a second), by Python from the columns' lists.
A block holding a number the compiled loop cannot write exactly
(``|x| * 10**digits >= 2**51``) is written by Python.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = ["TextColumn", "encode_texts", "write_rows"]

_ROWS = 1 << 17  # rows per formatted block: bounds the buffer (~13 MB for 100-byte rows)
#: from this many rows the compiled loop is worth loading numba for
COMPILED_ROWS = 300_000


class TextColumn:
    """A column of strings as codes into a table of CSV-ready UTF-8 fields."""

    def __init__(self, table: Sequence[str] | npt.NDArray[np.str_],
                 codes: npt.NDArray[np.integer]) -> None:
        self.fields, self.data, self.start, self.width = encode_texts(table)
        self.codes = np.asarray(codes, dtype=np.int64)

    def with_codes(self, codes: npt.NDArray[np.integer]) -> TextColumn:
        """Another column of the same strings (encoded once)."""
        other = object.__new__(TextColumn)
        other.fields, other.data, other.start, other.width = (
            self.fields, self.data, self.start, self.width)
        other.codes = np.asarray(codes, dtype=np.int64)
        return other


def encode_texts(values: Sequence[str] | npt.NDArray[np.str_]
                 ) -> tuple[list[str], npt.NDArray[np.uint8], npt.NDArray[np.int64], int]:
    """``values`` as CSV fields (quoted where the csv module would quote them): the
    fields, and their UTF-8 concatenated (bytes, ``len + 1`` start offsets, the widest
    one's length)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "U" and len(values) >= 1000:
        fast = _ascii_texts(values)
        if fast is not None:
            return fast
    items = [str(v) for v in values]
    joined = "".join(items)
    if any(c in joined for c in ',"\r\n'):
        quoted = []
        for s in items:  # minimal quoting, as the csv module does it
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([s, ""])
            quoted.append(buf.getvalue()[:-2])  # less the empty second field's ",\n"
        items = quoted
    encoded = [s.encode("utf-8") for s in items]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    start = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=start[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return items, data, start, int(lengths.max()) if len(lengths) else 0


_NEEDS_QUOTES = np.frombuffer(b',"\r\n', dtype=np.uint8)


def _ascii_texts(values: npt.NDArray[np.str_]
                 ) -> tuple[list[str], npt.NDArray[np.uint8], npt.NDArray[np.int64], int] | None:
    """:func:`encode_texts` of many ASCII strings none of which needs quotes, by whole
    arrays (a Python loop over 100,000 ids costs a tenth of a second); None otherwise."""
    try:
        raw = values.astype(np.bytes_)
    except UnicodeEncodeError:
        return None
    width = raw.dtype.itemsize
    lengths = np.char.str_len(raw).astype(np.int64)
    data = raw.view(np.uint8).reshape(len(raw), width)[np.arange(width) < lengths[:, None]]
    if np.isin(data, _NEEDS_QUOTES).any():
        return None
    start = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum(lengths, out=start[1:])
    return values.tolist(), np.ascontiguousarray(data), start, int(lengths.max())


Column = TextColumn | tuple[npt.NDArray[np.float64], int]


def write_rows(out: BinaryIO, columns: Sequence[Column], n: int) -> None:
    """Write ``n`` CSV rows of ``columns`` to ``out``: a :class:`TextColumn` or a pair
    ``(values, digits)`` (written as ``f"{v:.{digits}f}"``; ``digits`` 0 to 15)."""
    kinds = np.array([0 if isinstance(c, TextColumn) else 1 for c in columns], np.int8)
    text_cols = [c for c in columns if isinstance(c, TextColumn)]
    num_cols = [c for c in columns if not isinstance(c, TextColumn)]
    # One table of every text column's strings; a column's codes are offset into it.
    offsets = np.cumsum([0] + [len(c.start) - 1 for c in text_cols])[:-1].astype(np.int64)
    tables = (np.concatenate([c.data for c in text_cols]) if text_cols
              else np.zeros(0, np.uint8))
    starts = np.concatenate(
        [c.start[:-1] + base for c, base in zip(text_cols, np.cumsum(
            [0] + [len(c.data) for c in text_cols])[:-1], strict=True)]
        + [np.array([len(tables)], np.int64)]).astype(np.int64)
    digits = np.array([d for _, d in num_cols], np.int64)
    if ((digits < 0) | (digits > 15)).any():
        raise ValueError("digits must be 0 to 15")
    if n < COMPILED_ROWS and "numba" not in sys.modules:
        for start in range(0, n, _ROWS):
            out.write(_python_block(kinds, text_cols, num_cols, start, min(start + _ROWS, n)))
        return
    from skyaccord.tactical._csv_compiled import format_block

    text_width = sum(c.width for c in text_cols)

    def block(start: int) -> bytes:
        stop = min(start + _ROWS, n)
        m = stop - start
        codes = np.empty((m, len(text_cols)), np.int64)
        for k, c in enumerate(text_cols):
            codes[:, k] = c.codes[start:stop]
        numbers = np.empty((m, len(num_cols)))
        for k, (values, _) in enumerate(num_cols):
            numbers[:, k] = values[start:stop]
        # Bound on a row: texts, numbers of up to 20 digits, sign, point, separators.
        width = text_width + int((digits + 23).sum()) + len(columns)
        buf = np.empty(m * width, np.uint8)
        used = format_block(kinds, offsets, numbers, digits, tables, starts, codes, buf)
        if used < 0:
            return _python_block(kinds, text_cols, num_cols, start, stop)
        return buf[:used].tobytes()

    starts_of_blocks = range(0, n, _ROWS)
    if len(starts_of_blocks) < 2:
        for b in starts_of_blocks:
            out.write(block(b))
        return
    # Blocks are formatted on two threads (the loop releases the GIL), written in order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for data in pool.map(block, starts_of_blocks):
            out.write(data)


def _python_block(kinds: npt.NDArray[np.int8], text_cols: list[TextColumn],
                  num_cols: list[tuple[npt.NDArray[np.float64], int]], start: int,
                  stop: int) -> bytes:
    """Rows ``start:stop`` written by Python, column by column."""
    columns: list[list[str]] = []
    ti = ni = 0
    for kind in kinds:
        if kind == 0:
            c = text_cols[ti]
            columns.append([c.fields[k] for k in c.codes[start:stop].tolist()])
            ti += 1
        else:
            values, d = num_cols[ni]
            spec = f".{d}f"
            columns.append([format(v, spec) for v in values[start:stop].tolist()])
            ni += 1
    return "".join(",".join(row) + "\n" for row in zip(*columns, strict=True)).encode()
