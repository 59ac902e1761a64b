"""The documentation: the mkdocs site builds with ``--strict`` (no warning) from
``mkdocs.yml`` and ``docs/``, its API pages cover every entry point of ``import skyaccord``
and fetch nothing from the network, and every example on the pages and in the README's
"Python API" section runs as a doctest, so none of them can rot."""

from __future__ import annotations

import doctest
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

import skyaccord

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def run_doctests(path: Path) -> doctest.TestResults:
    result = doctest.testfile(str(path), module_relative=False, report=True,
                              optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{path.name}: {result.failed} example(s) failed (above)"
    return result


def test_tutorial_examples() -> None:
    assert run_doctests(DOCS / "tutorial.md").attempted >= 50


def test_index_examples() -> None:
    assert run_doctests(DOCS / "index.md").attempted >= 3


def test_dataframes_examples() -> None:
    pytest.importorskip("pandas")
    assert run_doctests(DOCS / "dataframes.md").attempted >= 15


def test_readme_python_api() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index("\n## Python API\n"), text.index("\n## Benchmarks\n")
    assert start < end
    # the README's only examples are in that section, and they all run
    assert ">>>" not in text[:start] + text[end:]
    assert run_doctests(ROOT / "README.md").attempted >= 6


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                          "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stderr}"
    assert "WARNING" not in run.stderr, run.stderr
    return out


def _pages(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): p.read_text(encoding="utf-8")
            for p in site.rglob("*.html")}


def test_site_has_every_page(site: Path) -> None:
    built = set(_pages(site))
    expected = {str(p.relative_to(DOCS).with_suffix(".html")) for p in DOCS.rglob("*.md")}
    assert expected <= built, sorted(expected - built)


def test_api_pages_cover_the_entry_points(site: Path) -> None:
    anchors = {a for text in _pages(site).values() for a in re.findall(r'id="(skyaccord[\w.]*)"',
                                                                      text)}
    missing = [n for n in skyaccord.__all__ if n != "__version__"
               and not any(a.endswith("." + n) for a in anchors)]
    assert not missing, f"entry points without an API entry: {missing}"


def test_api_pages_are_the_docstrings(site: Path) -> None:
    pages = _pages(site)
    for name, page in (("detect", "api/tactical.html"), ("Registry", "api/strategic.html"),
                       ("tracks_from_frame", "api/frames.html"),
                       ("load_accord", "api/protocol.html")):
        doc = getattr(skyaccord, name, None) or getattr(
            __import__("skyaccord.frames", fromlist=[name]), name)
        first = (doc.__doc__ or "").strip().splitlines()[0]
        # as shown: roles as their target's last part, no markup
        shown = re.sub(r":\w+:`(~?)([\w.]+)`",
                       lambda m: m[2].rpartition(".")[2] if m[1] else m[2], first)
        shown = shown.replace("``", "")
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", pages[page])).split())
        assert " ".join(shown.split()) in text, (name, shown)


def test_docstrings_read_as_markdown(site: Path) -> None:
    # Sphinx roles shown as code, doctests outside Examples sections fenced as code
    # (docs/griffe_doctests.py), never as markdown quotes or raw roles
    for name, text in _pages(site).items():
        assert not re.search(r":(func|class|mod|meth|attr|data|exc):`", text), name
        assert "<blockquote>\n<blockquote>" not in text, name


def test_site_fetches_nothing(site: Path) -> None:
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    for name, text in _pages(site).items():
        assert not remote.search(text), f"{name} loads {remote.search(text)}"
