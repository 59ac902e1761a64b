"""A griffe extension for the API pages, which read the docstrings as markdown:

- doctests written outside an ``Examples`` section (``>>>`` lines in a docstring's text)
  are fenced as code, which markdown would otherwise read as nested quotes and
  cross-references (``Examples`` sections are griffe's own);
- Sphinx roles (``:func:`~skyaccord.tactical.detect```) become code spans (``detect``),
  as Sphinx shows them.

The docstrings in the source are left as they are."""

from __future__ import annotations

import re
from typing import Any

import griffe

_SECTION = re.compile(r"^-{3,}\s*$")
_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with each Sphinx role replaced by a code span of its target (the last
    dotted part where the target starts with ``~``)."""
    return _ROLE.sub(lambda m: f"`{m[2].rpartition('.')[2] if m[1] else m[2]}`", text)


def fence_doctests(text: str) -> str:
    """``text`` with each run of doctest lines (``>>>`` to the next blank line) that sits
    outside a numpydoc ``Examples`` section between ```` ```pycon ```` fences."""
    lines = text.split("\n")
    out: list[str] = []
    in_examples = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _SECTION.match(lines[i + 1]) and line.strip():
            in_examples = line.strip() in ("Examples", "Example")
        if not in_examples and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += [f"{indent}```pycon", *block, f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(fence_doctests(obj.docstring.value))
