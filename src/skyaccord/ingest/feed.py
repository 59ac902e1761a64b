"""Open a recorded feed of any format as chunks of state updates in time order.

A gzip-compressed file (``.gz``, told by its magic bytes, as the ``traffic`` library
ships its samples) is read through :mod:`gzip`, whatever its format.
"""

from __future__ import annotations

import gc
import gzip
import io
import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, TextIO

from skyaccord.errors import FeedError
from skyaccord.ingest import formats
from skyaccord.ingest.columns import StateColumns
from skyaccord.ingest.decoder import Decoded, ModeSDecoder
from skyaccord.ingest.modes import BeastParser, RawFrame, frame_blocks, frames_from_lines
from skyaccord.ingest.states import FeedStats, StateUpdate

__all__ = ["open_columns", "open_feed", "read_updates"]

_CHUNK: Final = 50_000  # frames per decoder batch: bounds memory on large files
_GZIP_MAGIC: Final = b"\x1f\x8b"


def _open_bytes(path: Path, packed: bool) -> io.BufferedIOBase:
    """The file's bytes, decompressed if ``packed`` (gzip)."""
    return gzip.open(path, "rb") if packed else path.open("rb")


def _open_text(path: Path, packed: bool) -> TextIO:
    """The file's lines, decompressed if ``packed``; undecodable bytes replaced."""
    if packed:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return path.open(encoding="utf-8-sig", errors="replace")


def _read_all(path: Path, packed: bool) -> bytes:
    try:
        with _open_bytes(path, packed) as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from None


def _text(path: Path, packed: bool = False) -> str:
    data = _read_all(path, packed)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(f"{path}: not UTF-8 text at byte {exc.start}; for a Beast binary "
                        "file give --format modes") from None


def _chunks(frames: Iterator[RawFrame], decoder: ModeSDecoder,
            chunk: int, workers: int = 1) -> Iterator[list[StateUpdate]]:
    if workers > 1:
        from skyaccord.ingest.parallel import decode_parallel

        yield from decode_parallel(frames, decoder.stats, reference=decoder.reference,
                                   source=decoder.source, workers=workers, chunk=chunk)
        return
    while True:
        enabled = gc.isenabled()
        gc.disable()  # many small acyclic objects: collections here are pure overhead
        try:
            buf = list(itertools.islice(frames, chunk))
        finally:
            if enabled:
                gc.enable()
        if not buf:
            return
        yield decoder.decode(buf)


def open_feed(path: str | Path, fmt: str = "auto", stats: FeedStats | None = None, *,
              reference: tuple[float, float] | None = None,
              chunk: int = _CHUNK, workers: int | None = None
              ) -> Iterator[list[StateUpdate]]:
    """Chunks of state updates from a recorded feed, in time order.

    ``fmt`` is one of :data:`~skyaccord.ingest.formats.FORMATS` or ``"auto"`` (sniffed).
    ``workers``: processes decoding raw Mode S frames (partitioned by aircraft, same
    results as 1); None is :func:`~skyaccord.ingest.parallel.auto_workers`' choice (1:
    the vectorised decoder outruns the routing of frames to workers on every recording
    measured, benchmarks/ingest.py). Bad rows are counted in ``stats``; a file that cannot
    be read at all raises :class:`~skyaccord.errors.FeedError` naming it.
    """
    path = Path(path)
    stats = stats if stats is not None else FeedStats(path.name)
    for part in _open(path, fmt, stats, reference, chunk, workers):
        yield part if isinstance(part, list) else part.updates(path.name)


def open_columns(path: str | Path, fmt: str = "auto", stats: FeedStats | None = None, *,
                 reference: tuple[float, float] | None = None, chunk: int = _CHUNK,
                 workers: int | None = None) -> Iterator[StateColumns]:
    """:func:`open_feed` as :class:`~skyaccord.ingest.columns.StateColumns` chunks: raw
    Mode S text and JSON lines go from the file to columns without one record per
    update (``skyaccord decode``'s path)."""
    path = Path(path)
    stats = stats if stats is not None else FeedStats(path.name)
    for part in _open(path, fmt, stats, reference, chunk, workers):
        yield StateColumns.from_updates(part) if isinstance(part, list) else part.columns()


def _open(path: Path, fmt: str, stats: FeedStats, reference: tuple[float, float] | None,
          chunk: int, workers: int | None) -> Iterator[list[StateUpdate] | Decoded]:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
        packed = head.startswith(_GZIP_MAGIC)
        if packed:
            with _open_bytes(path, packed) as unpacked:
                head = unpacked.read(4096)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from None
    if fmt == "auto":
        fmt = formats.sniff_format(path, head)
    if fmt not in formats.FORMATS:
        raise FeedError(f"unknown format {fmt!r}; formats are auto, "
                        f"{', '.join(formats.FORMATS)}")
    name = path.name
    if fmt == "modes":
        decoder = ModeSDecoder(stats, reference, source=name)
        if workers is None:
            from skyaccord.ingest.parallel import auto_workers

            workers = auto_workers()
        if len(head) > 1 and head[0] == 0x1A:
            parser = BeastParser(stats=stats)

            def beast() -> Iterator[RawFrame]:
                try:
                    with _open_bytes(path, packed) as fh:
                        while block := fh.read(1 << 20):
                            yield from parser.feed(block)
                except (OSError, EOFError, zlib.error) as exc:
                    raise FeedError(f"{path}: cannot read: {exc}") from None

            yield from _chunks(beast(), decoder, chunk, workers)
        elif workers > 1:
            def lines() -> Iterator[str]:
                try:
                    with _open_text(path, packed) as text_fh:
                        yield from text_fh
                except (OSError, EOFError, zlib.error) as exc:
                    raise FeedError(f"{path}: cannot read: {exc}") from None

            yield from _chunks(frames_from_lines(lines(), stats, name), decoder, chunk,
                               workers)
        else:
            where = f"{name} line"
            try:
                with _open_bytes(path, packed) as raw:
                    for b in frame_blocks(raw, stats, name):
                        lines_of = b.line

                        def at(i: int, lines_of: Any = lines_of) -> str:
                            return f"{where} {lines_of[i]}"

                        if b.rows is not None:
                            yield decoder.decode_rows(b.t, b.rows, b.lens, b.is_hex,
                                                      b.frame, at)
                        else:
                            yield decoder.decode_columns(b.t, list(b.frame), at)
            except (OSError, EOFError, zlib.error) as exc:
                raise FeedError(f"{path}: cannot read: {exc}") from None
        return
    if fmt == "opensky" and (path.suffix.lower() == ".parquet" or head.startswith(b"PAR1")):
        rows: Iterator[dict[str, object]] = formats.opensky_parquet_rows(path)
        yield sorted(formats.read_opensky_rows(rows, stats, name), key=lambda u: u.t)
        return
    text = _text(path, packed)
    if fmt == "opensky":
        import csv

        reader = csv.DictReader(io.StringIO(text))
        yield sorted(formats.read_opensky_rows(reader, stats, name), key=lambda u: u.t)
    elif fmt == "traffic":
        yield formats.read_traffic(text, stats, name)
    elif fmt == "tracks":
        yield formats.read_tracks_rows(io.StringIO(text), stats, name)
    elif fmt == "states":
        yield list(formats.read_states_csv(io.StringIO(text), stats, name))
    else:  # sbs
        sbs = formats.read_sbs(text.splitlines(), stats, name)
        while part := list(itertools.islice(sbs, chunk)):
            yield part


def read_updates(path: str | Path, fmt: str = "auto",
                 reference: tuple[float, float] | None = None
                 ) -> tuple[list[StateUpdate], FeedStats]:
    """All state updates of a recorded feed, and its statistics."""
    stats = FeedStats(Path(path).name)
    out: list[StateUpdate] = []
    for part in open_feed(path, fmt, stats, reference=reference):
        out.extend(part)
    return out, stats
