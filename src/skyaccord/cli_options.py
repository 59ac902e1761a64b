"""What the command modules share: option types, the error console, ``fail`` and the
``--accord`` loader.

This is the command line's leaf module: it imports no command module, so that every
command module (``skyaccord.*.cli``, ``skyaccord.*_cli``) imports it at the top, and
:mod:`skyaccord.cli` only builds the app and registers the commands.

Exit codes: 0 success; an error's own :attr:`~skyaccord.errors.SkyaccordError.exit_code`
(2 bad input, 3 refused for conflict: the table in :mod:`skyaccord.errors`), through
:func:`fail_with`; 1 where a command cannot write its output or a check failed.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, NoReturn, TextIO

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from skyaccord.errors import SkyaccordError

if TYPE_CHECKING:  # the accord (numpy) loads only in the commands that read one
    from skyaccord.protocol import Accord
    from skyaccord.tracks import TracksFile

__all__ = [
    "AccordOption",
    "LookaheadOption",
    "err_console",
    "fail",
    "fail_with",
    "load_accord_option",
]

#: ``--accord FILE``
AccordOption = Annotated[
    Path | None,
    typer.Option("--accord", help="Accord TOML (default: the shipped 2015 Syria model)."),
]
#: ``--lookahead S``
LookaheadOption = Annotated[
    float | None,
    typer.Option("--lookahead", help="Look-ahead in seconds (default: the accord's)."),
]

#: Where commands print errors, warnings and summaries (stdout is for their output).
#: Never markup: messages carry data and peers' text (``[/b] roger`` is text, not a tag).
err_console = Console(stderr=True, markup=False, highlight=False)


def data_table(*headers: str, title: str | None = None) -> Table:
    """A table for a command's rows: light rules so it fits 80 columns, and every column
    folds a long value onto more lines instead of cutting it (ids, times and levels are
    what the reader came for)."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def read_picture_option(path: Path, accord: Accord, *, skip_bad: bool = False
                        ) -> TracksFile:
    """The picture a command reads from ``path``: a tracks CSV of one instant (one row
    per aircraft, ``id,party,...`` without a ``t`` column) as it is; any other feed
    ``replay`` reads (``decode``'s states, a run's tracks over time, a recording) played
    through the picture to its last time, said so on stderr. Errors exit 2."""
    from skyaccord.errors import TrackDataError
    from skyaccord.tracks import TracksFile, read_tracks_csv

    try:
        with path.open("rb") as fh:
            head = fh.readline(4096).decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    cols = {c.strip().lower() for c in head.split(",")}
    try:
        if {"id", "party"} <= cols and "t" not in cols:
            return read_tracks_csv(path, skip_bad=skip_bad, classes=accord.classes)
        from skyaccord.ingest.snapshot import picture_at_end

        feed = picture_at_end(path)
    except SkyaccordError as exc:
        fail_with(exc)
    from skyaccord.timeutil import format_rfc3339

    err_console.print(f"{path}: the picture at {format_rfc3339(round(feed.t, 3))} (the "
                      f"feed's last time): {len(feed.tracks)} live tracks from "
                      f"{feed.stats.updates} updates", soft_wrap=True)
    unknown = sorted(set(feed.tracks.aircraft_class.tolist()) - set(accord.classes))
    if unknown:
        fail_with(TrackDataError(f"{path}: aircraft classes {unknown} are not in the "
                                 f"accord ({', '.join(accord.classes)})"))
    return TracksFile(feed.tracks, ())


class Progress:
    """What a long command tells a person watching: one line on stderr, redrawn, when
    stderr is a terminal; nothing at all when it is piped or redirected (logs and
    scripts get the result only)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._status: Any = None

    def __enter__(self) -> Progress:
        if err_console.is_terminal:
            self._status = err_console.status(self.what)
            self._status.__enter__()
        return self

    def update(self, text: str) -> None:
        """Say how far the work is (``"120,000 frames"``)."""
        if self._status is not None:
            self._status.update(f"{self.what}: {text}")

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


def check_output_paths(*paths: Path | None) -> None:
    """Refuse, before any work, output paths that cannot be written: a directory, a
    missing or read-only parent directory (exit 2; ``None`` entries are skipped). A
    command that would print all its results and then fail to save them fails first."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            fail(f"{path}: is a directory; give a file name")
        parent = path.parent
        if not parent.is_dir():
            fail(f"{path}: no directory {parent}")
        if not os.access(parent, os.W_OK | os.X_OK) or (
                path.exists() and not os.access(path, os.W_OK)):
            fail(f"{path}: not writable")


@contextmanager
def atomic_output(path: Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """A text file that appears at ``path`` whole when the block ends, and not at all
    (nor a temporary beside it) when the block fails: what existed there stays."""
    with atomic_binary_output(path) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline=newline)
        yield fh
        fh.flush()
        fh.detach()  # the bytes file is closed (and renamed) by atomic_binary_output


@contextmanager
def atomic_binary_output(path: Path) -> Iterator[BinaryIO]:
    """:func:`atomic_output` for bytes."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def out_console() -> Console:
    """A console for a command's output on stdout that reads no text as markup: table
    cells and messages hold data from files and from other parties."""
    return Console(markup=False, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit with ``code`` (default 2: bad input)."""
    err_console.print(Text("error:", style="bold red"), message, soft_wrap=True)
    raise typer.Exit(code)


def fail_with(exc: SkyaccordError, code: int | None = None) -> NoReturn:
    """Print ``exc`` to stderr and exit with its class's ``exit_code``, or with ``code``
    where a command documents another (``intents``: 1 for a store failure)."""
    fail(str(exc), exc.exit_code if code is None else code)


def load_accord_option(path: Path | None, lookahead_s: float | None = None) -> Accord:
    """The accord named by ``--accord`` (or the default), with ``--lookahead`` applied;
    exits with the error's code (2) when either is invalid."""
    from skyaccord.protocol import default_accord, load_accord

    try:
        accord = default_accord() if path is None else load_accord(path)
        return accord if lookahead_s is None else accord.with_lookahead(lookahead_s)
    except SkyaccordError as exc:
        fail_with(exc)
