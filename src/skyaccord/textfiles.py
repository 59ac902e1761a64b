"""Reading the files users hand us — accords, intents, zones, rules — bounded and with one
clear error whatever is in them.

Every reader here takes the error class of the caller's domain (``ProtocolError`` for an
accord, ``IntentError`` for an intent, ...), so a command prints one line naming the file
and exits with that class's code. What they refuse, and why:

- files over a size bound, refused from ``stat`` and a bounded read before any parsing
  (a million-vertex polygon is refused in a millisecond, not after 6 s and 360 MB);
- bytes that are not UTF-8 (a binary file given by mistake);
- JSON or TOML nested deeper than the interpreter's recursion limit (``RecursionError``
  inside the parsers), integers of more than 4,300 digits (CPython's limit on int
  conversion, a ``ValueError`` inside ``json``), and JSON's non-standard ``NaN`` and
  ``Infinity`` (RFC 8259 has no such numbers).

>>> parse_json_text('{"a": [1, 2]}', "x.json", ValueError)
{'a': [1, 2]}
>>> parse_json_text("[" * 100_000, "x.json", ValueError)
Traceback (most recent call last):
ValueError: x.json: nested too deeply to read
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Final, NoReturn

__all__ = ["MAX_INPUT_BYTES", "parse_json_text", "parse_toml_text", "read_text_file"]

#: The largest input file read (64 MiB): above any real accord, plan or border set (the
#: shipped borders of six countries are 0.3 MB), below what fits in memory twice over.
MAX_INPUT_BYTES: Final = 64 * 1024 * 1024


def read_text_file(path: str | Path, what: str, error: type[Exception], *,
                   max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of ``path`` (``what`` names it in errors: "accord", "zones"), read
    only when it holds at most ``max_bytes`` bytes."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{p}: the {what} file is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: the {what} file is not UTF-8 text (byte {exc.start})") from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_text(text: str, source: str, error: type[Exception]) -> Any:
    """The JSON value of ``text``; ``source`` names it in errors."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: "
                    f"{exc.msg}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to read") from None
    except ValueError as exc:  # int digits over the limit, NaN/Infinity
        raise error(f"{source}: invalid JSON: {exc}") from None


def parse_toml_text(text: str, source: str, error: type[Exception]) -> dict[str, Any]:
    """The TOML document of ``text``; ``source`` names it in errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() converts
        raise error(f"{source}: not valid TOML: {exc}") from None
