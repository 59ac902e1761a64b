"""``import skyaccord``: the typed entry points, imported lazily from their home modules."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import skyaccord

INIT = Path(skyaccord.__file__)


def test_import_loads_no_engine() -> None:
    # a fresh interpreter: what `import skyaccord` adds to what the interpreter had
    code = ("import sys, json; before = set(sys.modules); import skyaccord; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    added = set(json.loads(out.stdout))
    assert "skyaccord" in added
    heavy = {"numpy", "numba", "scipy", "shapely", "pyproj", "pandas", "typer", "rich",
             "fastapi", "rs1090", "typing", "re"}
    assert not added & heavy, sorted(added & heavy)
    ours = sorted(m for m in added if m.startswith("skyaccord."))
    assert ours == [], ours


def test_first_use_imports_the_home_module() -> None:
    code = ("import sys, skyaccord; assert 'numpy' not in sys.modules; "
            "a = skyaccord.default_accord(); "
            "print(type(a).__module__, 'numpy' in sys.modules, 'skyaccord.ingest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["skyaccord.protocol", "True", "False"]


def _type_checking_imports() -> dict[str, str]:
    """What the TYPE_CHECKING block of skyaccord/__init__.py imports: name -> module."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING")
    return {a.name: node.module or "" for node in block.body
            if isinstance(node, ast.ImportFrom) and node.module != "typing" for a in node.names}


@pytest.mark.parametrize("name", [n for n in skyaccord.__all__ if n != "__version__"])
def test_every_name_is_its_home_modules(name: str) -> None:
    home = _type_checking_imports()[name]  # what mypy and IDEs are told
    assert getattr(skyaccord, name) is getattr(importlib.import_module(home), name)


def test_all_and_type_checking_block_agree() -> None:
    names = set(_type_checking_imports())
    assert names == set(skyaccord.__all__) - {"__version__"}
    assert skyaccord.__all__ == sorted(skyaccord.__all__)
    assert set(skyaccord.__all__) <= set(dir(skyaccord))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'detekt'"):
        _ = skyaccord.detekt  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from skyaccord import nothing_here", {})


def test_star_import_gives_the_entry_points() -> None:
    namespace: dict[str, object] = {}
    exec("from skyaccord import *", namespace)
    assert namespace["detect"] is importlib.import_module("skyaccord.tactical.detect").detect
    assert namespace["Registry"].__name__ == "Registry"  # type: ignore[attr-defined]


def test_the_entry_points_compose() -> None:
    # a head-on pair through the top-level names only: 20 NM apart at 480 kt each, the
    # accord's 5 NM lost after closing 15 NM at 960 kt: 56.25 s
    deg_per_nm = 1852 / 91_287.8  # one degree of longitude at 35 N is ~91.29 km
    tracks = skyaccord.Tracks.from_rows([
        ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
        ("b", "ru", "manned", 35.0, 36.0 + 20 * deg_per_nm, 30000, 480, 270, 0),
    ])
    accord = skyaccord.default_accord()
    conflicts = skyaccord.detect(tracks, accord)
    assert isinstance(conflicts, skyaccord.PairConflicts)
    (record,) = skyaccord.conflict_records(tracks, conflicts, accord)
    assert (record.id1, record.id2) == ("a", "b")
    assert record.t_in_s == pytest.approx(56.25, abs=0.3)
    assert record.tcpa_s == pytest.approx(75.0, abs=0.3)
