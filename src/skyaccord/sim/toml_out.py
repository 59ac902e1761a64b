"""The accord back to TOML: the nodes of a run read it from the run directory.

Only what :meth:`Accord.to_dict` produces: tables of scalars and lists of scalars, and
arrays of such tables (``[[parties]]``, ``[[separation]]``, ``[[alerting.levels]]``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from skyaccord.protocol import Accord

__all__ = ["accord_toml", "toml_text"]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML has no {v!r} here")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value")


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _emit(tree: dict[str, Any], prefix: str, out: list[str]) -> None:
    scalars = {k: v for k, v in tree.items() if not _is_table(v) and not _is_table_array(v)}
    for k, v in scalars.items():
        if v is not None:
            out.append(f"{k} = {_value(v)}")
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else k
        if _is_table(v):
            out.append(f"\n[{name}]")
            _emit(v, name, out)
        elif _is_table_array(v):
            for item in v:
                out.append(f"\n[[{name}]]")
                _emit(item, name, out)


def toml_text(tree: dict[str, Any]) -> str:
    """A TOML document of ``tree`` (nested dicts, lists of dicts, scalars)."""
    out: list[str] = []
    _emit(tree, "", out)
    return "\n".join(out).lstrip("\n") + "\n"


def accord_toml(accord: Accord) -> str:
    """The accord as a TOML file that reads back to the same accord (same hash)."""
    return toml_text(accord.to_dict())
