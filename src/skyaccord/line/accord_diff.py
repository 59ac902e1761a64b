"""What a proposed accord changes: a structured difference and its text for operators.

The two accords' canonical dictionaries (:meth:`~skyaccord.protocol.Accord.to_dict`) are
flattened to ``path -> value``, with the lists that are sets keyed by what identifies an
entry (parties by id, separation minima by class pair, alert levels by name, zones by
id), so that reordering changes nothing and a changed minimum is one change, not a
removed and an added entry. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyaccord.protocol import Accord

__all__ = ["Change", "accord_diff", "diff_text"]

#: the lists of the canonical form and the field that keys their entries
_KEYED = {"parties": "id", "levels": "name", "zones": "id"}


@dataclass(frozen=True)
class Change:
    """One difference: ``path`` (e.g. ``separation[manned/unmanned].horizontal_nm``),
    ``op`` (``added``, ``removed``, ``changed``), the old and new values."""

    path: str
    op: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "old": self.old, "new": self.new,
                "text": self.text()}

    def text(self) -> str:
        unit = _unit(self.path)
        if self.op == "added":
            return f"{self.path}: added {_show(self.new)}{unit}"
        if self.op == "removed":
            return f"{self.path}: removed (was {_show(self.old)}{unit})"
        return f"{self.path}: {_show(self.old)}{unit} -> {_show(self.new)}{unit}"


def _unit(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    for suffix, unit in (("_nm", " NM"), ("_ft", " ft"), ("_s", " s"), ("_mhz", " MHz")):
        if last.endswith(suffix):
            return unit
    return ""


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def _flatten(tree: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{path}.{k}" if path else str(k), out)
        return
    name = path.rsplit(".", 1)[-1]
    if isinstance(tree, list) and tree and all(isinstance(e, dict) for e in tree):
        if name == "separation":
            for e in tree:
                key = "/".join(e["classes"])
                _flatten({k: v for k, v in e.items() if k != "classes"},
                         f"{path}[{key}]", out)
            return
        if name in _KEYED:
            field = _KEYED[name]
            for e in tree:
                entry = {k: v for k, v in e.items() if k != field}
                sub = f"{path}[{e[field]}]"
                if entry:
                    _flatten(entry, sub, out)
                else:
                    out[sub] = e[field]
            return
    out[path] = tree


def accord_diff(old: Accord, new: Accord) -> list[Change]:
    """What ``new`` changes from ``old``, in the canonical form's order of sections."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old.to_dict(), "", a)
    _flatten(new.to_dict(), "", b)
    out = []
    for path in list(a) + [p for p in b if p not in a]:
        if path not in b:
            out.append(Change(path, "removed", a[path], None))
        elif path not in a:
            out.append(Change(path, "added", None, b[path]))
        elif a[path] != b[path]:
            out.append(Change(path, "changed", a[path], b[path]))
    return out


def diff_text(old: Accord, new: Accord) -> str:
    """The difference for people, one change a line (``no change`` when equal)."""
    changes = accord_diff(old, new)
    head = (f"{old.id} v{old.version} -> {new.id} v{new.version}: "
            f"{len(changes)} change{'s' if len(changes) != 1 else ''}")
    return "\n".join([head, *(f"  {c.text()}" for c in changes)])
