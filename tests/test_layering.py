"""The layering of skyaccord, checked on the source: every ``import`` of every module
(package ``__init__``s, function-level and ``TYPE_CHECKING`` imports included) keeps to
the table below, which each package's README states in its "May import:" line.

A package imports only what sits below it in the data flow (``src/skyaccord/*/README.md``):
no cycles between packages; the command modules (``skyaccord.cli``, ``cli_options``,
``*.cli``, ``*_cli``) sit on top and may import anything, but nothing below imports them,
and nothing imports ``skyaccord.cli`` (the app) but ``skyaccord.__main__``. No module
uses another's private names (``_name``) or another package's private modules.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "skyaccord"

_E, _G, _C, _T, _F = ("skyaccord.errors", "skyaccord.geo", "skyaccord.canonical",
                      "skyaccord.timeutil", "skyaccord.textfiles")
_P = "skyaccord.parquetfile"

#: What each unit (a top-level module or a package) may import of skyaccord: a name
#: allows that module and everything under it. Packages' entries equal their README's.
LAYERS: dict[str, frozenset[str]] = {
    # the package's lazy entry points (skyaccord/__init__.py: TYPE_CHECKING imports)
    "skyaccord": frozenset({_E, "skyaccord.protocol", "skyaccord.tracks", "skyaccord.picture",
                           "skyaccord.tactical", "skyaccord.airspace", "skyaccord.strategic",
                           "skyaccord.store", "skyaccord.ingest"}),
    _E: frozenset(),
    _C: frozenset({_E}),
    _T: frozenset({_E}),
    _G: frozenset({_E}),
    _F: frozenset(),
    _P: frozenset({_E}),
    "skyaccord.protocol": frozenset({_E, _G, _C, _T, _F}),
    "skyaccord.tracks": frozenset({_E, _G}),
    "skyaccord.picture": frozenset({_E, _G, "skyaccord.tracks"}),
    "skyaccord.tactical": frozenset({_E, _G, _P, "skyaccord.protocol", "skyaccord.tracks"}),
    "skyaccord.airspace": frozenset({_E, _G, _T, _F, "skyaccord.protocol", "skyaccord.tracks",
                                     "skyaccord.tactical.kinematics"}),
    "skyaccord.store": frozenset({_E}),
    "skyaccord.strategic": frozenset({_E, _G, _C, _F, "skyaccord.protocol",
                                      "skyaccord.store"}),
    "skyaccord.ingest": frozenset({_E, _G, _T, _P, "skyaccord.protocol", "skyaccord.tracks",
                                   "skyaccord.picture", "skyaccord.tactical"}),
    "skyaccord.line": frozenset({_E, _C, "skyaccord.protocol", "skyaccord.tracks",
                                 "skyaccord.tactical", "skyaccord.strategic",
                                 "skyaccord.store"}),
    "skyaccord.frames": frozenset({_E, "skyaccord.protocol", "skyaccord.tracks",
                                   "skyaccord.tactical"}),
    "skyaccord.node": frozenset({_E, _G, "skyaccord.protocol", "skyaccord.tracks",
                                 "skyaccord.picture", "skyaccord.tactical",
                                 "skyaccord.airspace", "skyaccord.strategic",
                                 "skyaccord.store", "skyaccord.line", "skyaccord.ingest",
                                 "skyaccord.web"}),
    "skyaccord.web": frozenset({_E, "skyaccord.airspace"}),
    "skyaccord.dss": frozenset({_E, _G, _T, "skyaccord.strategic"}),
    "skyaccord.analysis": frozenset({_E, _G, "skyaccord.protocol", "skyaccord.airspace"}),
    "skyaccord.sim": frozenset({_E, _G, "skyaccord.protocol", "skyaccord.airspace",
                                "skyaccord.line", "skyaccord.node", "skyaccord.analysis"}),
}


class Import(NamedTuple):
    module: str  # the importing module
    target: str  # the imported module
    name: str | None  # the name taken from it (``from target import name``), if any
    line: int
    bound: str | None = None  # the name a module is bound to (``import t as b``)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of skyaccord (not a name inside one)."""
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def source_modules() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for p in PKG.rglob("*.py"))


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """Every skyaccord import in ``path``, wherever it sits in the module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, None, node.lineno, alias.asname)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if is_module(sub):
                    yield Import(module, sub, None, node.lineno, alias.asname or alias.name)
                else:
                    yield Import(module, source, alias.name, node.lineno)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) == "import_module")):
            yield Import(module, node.args[0].value, None, node.lineno)


def all_imports() -> list[Import]:
    return [i for m, p in source_modules() for i in imports_of(m, p)
            if i.target == "skyaccord" or i.target.startswith("skyaccord.")]


def is_command(module: str) -> bool:
    """The command line: ``skyaccord.cli``, ``cli_options``, ``__main__`` and each
    package's ``cli`` / ``*_cli`` modules."""
    last = module.rpartition(".")[2]
    return (module in ("skyaccord.cli", "skyaccord.cli_options", "skyaccord.__main__")
            or last == "cli" or last.endswith("_cli"))


def unit_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def allowed(unit: str, target: str) -> bool:
    return (unit_of(target) == unit
            or any(target == a or target.startswith(a + ".") for a in LAYERS[unit]))


def where(i: Import) -> str:
    return f"{i.module}:{i.line} imports {i.target}" + (f".{i.name}" if i.name else "")


def test_every_unit_is_in_the_table() -> None:
    units = {unit_of(m) for m, _ in source_modules() if not is_command(m)}
    assert units <= set(LAYERS), f"add to LAYERS (and the README): {sorted(units - set(LAYERS))}"


def test_imports_keep_to_the_layers() -> None:
    bad = [where(i) for i in all_imports()
           if not is_command(i.module) and not allowed(unit_of(i.module), i.target)]
    assert not bad, "imports outside the package's layer:\n" + "\n".join(bad)


def test_nothing_below_the_command_line_imports_it() -> None:
    bad = [where(i) for i in all_imports()
           if not is_command(i.module) and is_command(i.target)]
    assert not bad, "\n".join(bad)


def test_only_main_imports_the_app() -> None:
    bad = [where(i) for i in all_imports()
           if i.target == "skyaccord.cli" and i.module != "skyaccord.__main__"]
    assert not bad, "command modules take what they share from skyaccord.cli_options:\n" \
        + "\n".join(bad)


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` if it has one (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        path.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return [*path[path.index(v):], v]
            if v not in state and (found := visit(v)) is not None:
                return found
        state[u] = 2
        path.pop()
        return None

    for u in sorted(graph):
        if u not in state and (found := visit(u)) is not None:
            return found
    return None


def test_no_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for i in all_imports():
        if not is_command(i.module) and unit_of(i.target) != unit_of(i.module):
            graph.setdefault(unit_of(i.module), set()).add(unit_of(i.target))
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_table_has_no_cycles() -> None:
    graph = {u: {unit_of(a) for a in allowed_} for u, allowed_ in LAYERS.items()}
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_cycle_finder() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"a"}}) == ["a", "a"]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_across_modules() -> None:
    imports = all_imports()
    bad = [where(i) for i in imports if i.name is not None and _private(i.name)
           and i.target != i.module]
    for module, path in source_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {i.bound for i in imports if i.module == module and i.bound}
        bad += [f"{module}:{n.lineno} uses {n.value.id}.{n.attr}" for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and n.value.id in aliases and _private(n.attr)]
    assert not bad, "give these a public name:\n" + "\n".join(bad)


def test_private_modules_stay_in_their_package() -> None:
    bad = []
    for i in all_imports():
        parts = i.target.split(".")
        for k, part in enumerate(parts):
            owner = ".".join(parts[:k])
            if _private(part) and not (i.module == owner or i.module.startswith(owner + ".")):
                bad.append(where(i))
    assert not bad, "\n".join(bad)


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    # a package __init__ with relative imports, a function-level import, a TYPE_CHECKING
    # import and import_module: each is found, resolved to its module
    text = ("from typing import TYPE_CHECKING\nfrom . import keys\n"
            "if TYPE_CHECKING:\n    from skyaccord.ingest.feed import open_feed\n"
            "def f():\n    from ..tactical import detect\n"
            "    import importlib\n    importlib.import_module('skyaccord.cli')\n")
    fake = tmp_path / "__init__.py"
    fake.write_text(text, encoding="utf-8")
    found = {(i.target, i.name) for i in imports_of("skyaccord.line", fake)}
    assert found == {("typing", "TYPE_CHECKING"), ("skyaccord.line.keys", None),
                     ("skyaccord.ingest.feed", "open_feed"),
                     ("skyaccord.tactical.detect", None), ("importlib", None),
                     ("skyaccord.cli", None)}


_MAY_IMPORT = re.compile(r"May import:(.*?)(?:\.\s+[A-Z]|\.\s*$|\n\n)", re.S)


@pytest.mark.parametrize("readme", sorted(PKG.glob("*/README.md")),
                         ids=lambda p: p.parent.name)
def test_readme_states_the_layer(readme: Path) -> None:
    match = _MAY_IMPORT.search(readme.read_text(encoding="utf-8"))
    assert match, f"{readme}: no 'May import:' line"
    stated = set(re.findall(r"`(skyaccord(?:\.\w+)+)`", match.group(1)))
    unit = f"skyaccord.{readme.parent.name}"
    assert stated == set(LAYERS[unit]), (
        f"{readme}: states {sorted(stated)}, the layering test has "
        f"{sorted(LAYERS[unit])}")
