"""Canonical forms shared by the accord and the line: JSON text and party ids.

:func:`canonical_json` writes a JSON value with sorted object keys, no whitespace
(``,`` and ``:`` separators), non-ASCII characters as themselves (UTF-8 once encoded) and
no NaN or infinity (they are not JSON, RFC 8259 section 6). The accord's hash
(:attr:`skyaccord.protocol.Accord.sha256`) and the line's signatures and message ids
(:mod:`skyaccord.line.messages`) are taken over exactly these bytes: changing an option's
default changes every hash and signature.

Two options exist for stored forms written before this module: ``ensure_ascii=True``
writes non-ASCII characters as ``\\uXXXX`` escapes and ``allow_nan=True`` writes
``NaN``/``Infinity`` (Python's :func:`json.dumps` defaults); a store that hashed or
compared text written that way keeps its bytes by passing both.

:data:`PARTY_ID` is the form of a party id, both in an accord's ``[[parties]]`` and in a
line message's ``from``/``to``: a lowercase letter, then up to 15 lowercase letters,
digits, ``_`` or ``-``. It lives here, not in :mod:`skyaccord.protocol`, so that the line
can check ids without loading the accord's numeric stack.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["PARTY_ID", "canonical_json"]

#: a party id: ``us``, ``ru``, ``nato-1`` (1 to 16 characters)
PARTY_ID: Final = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")


def canonical_json(value: Any, *, ensure_ascii: bool = False, allow_nan: bool = False) -> str:
    """Sorted keys, compact separators, UTF-8 text, no NaN: the signed and hashed form.

    >>> canonical_json({"b": 1, "a": [1.5, "é"]})
    '{"a":[1.5,"é"],"b":1}'
    >>> canonical_json({"a": "é"}, ensure_ascii=True)
    '{"a":"\\\\u00e9"}'
    >>> canonical_json(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: Out of range float values are not JSON compliant
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=ensure_ascii, allow_nan=allow_nan)
