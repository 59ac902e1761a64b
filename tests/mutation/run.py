"""Mutation testing of the kernels and the security-critical code, with mutmut.

Not part of the test suite or CI (minutes to hours): run by hand, one group at a time::

    python tests/mutation/run.py GROUP [--workdir DIR] [--max-children N] [--commit REV]
    python tests/mutation/run.py GROUP --recheck [-k EXPR]

A group names the modules to mutate and the tests that should kill their mutants
(:data:`GROUPS`). The script copies ``src/`` and ``pyproject.toml`` as committed at ``REV``
(default ``HEAD``: other sessions may be editing the working tree's sources; the commit
is printed and kept in ``DIR/COMMIT``) and the working tree's ``tests/`` into ``DIR``
(default ``/tmp/skyaccord-mutation/GROUP``), pins hypothesis there (a profile with
``derandomize=True`` and no example database, so that mutmut's first pass and every
mutant see the same drawn cases), writes mutmut's configuration there
(every other module listed in ``do_not_mutate``), runs ``mutmut run`` with the editable
install's ``src`` taken off ``sys.path`` (so the tests import the mutants), and prints
the killed, survived and timed-out counts, the kill rate and each survivor; ``mutmut
show NAME`` in ``DIR`` shows a survivor's diff. The working tree is never modified.
Set ``SKYACCORD_PG_URL`` for the groups whose tests use PostgreSQL. See README.md here.

``--recheck`` runs each mutant a finished run left alive (survived, no tests, timeout)
again against the working tree's current ``tests/`` (copied into the run's ``mutants/``
directory), the mutant switched on through mutmut's ``MUTANT_UNDER_TEST``, and prints
the figures with those it now kills: the way to check new tests mutant by mutant without
the hours of a full run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: group: (modules to mutate, tests that must kill their mutants)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "strategic": (["strategic/intersect.py", "strategic/locks.py", "strategic/separation.py"],
                  ["tests/strategic/test_intersect.py", "tests/strategic/test_separation_locks.py",
                   "tests/strategic/test_lock_cells.py", "tests/store/test_registry_locks.py"]),
    # the kinematics and levels against the plain reference, the geodesic truth and the
    # interval kernel's sampling; detection's pair search and records against those and
    # the hand-worked encounters (its slowest tests, thousands of tracks, left out)
    "tactical": (["tactical/kinematics.py", "tactical/levels.py"],
                 ["tests/tactical/test_reference.py", "tests/tactical/test_kinematics.py",
                  "tests/tactical/test_detect.py", "-k", "not pruned and not coarse"]),
    # with the pair-search edges, chunks and records of test_detect_edges.py and the
    # CSV writer through the CLI; the compiled grid run as Python (_UNJIT), against the
    # all-pairs reference on pictures of up to 1,000 tracks (the 3,000-track ones left
    # out), the columnar table and writers
    "detect": (["tactical/detect.py", "tactical/_grid.py"],
               ["tests/tactical/test_reference.py", "tests/tactical/test_detect.py",
                "tests/tactical/test_detect_edges.py", "tests/tactical/test_cli.py",
                "tests/tactical/test_detect_pruning_mutation.py",
                "tests/tactical/test_detect_pruning_cells_mutation.py",
                "tests/tactical/test_columns.py", "tests/tactical/test_columnar_parquet.py",
                "tests/tactical/test_columnar_texts.py", "tests/tactical/test_grid_mutation.py",
                "tests/tactical/test_detect_cells_mutation.py",
                "tests/tactical/test_detect_writers_mutation.py",
                "-k", "not (pruned and 3000) and not (cell_engine and (2500 or 2000))"]),
    # the bands against detect re-run, a simulated turn and the plain reference
    "bands": (["tactical/bands.py"], ["tests/tactical/test_bands.py",
                                      "tests/tactical/test_bands_reference.py",
                                      "tests/tactical/test_bands_edges.py",
                                      "tests/tactical/test_bands_turn_reference_mutation.py"]),
    # (the star-polygon brute force no longer gives up where the distance is flat at its
    # maximum, and hypothesis is pinned in the copy: the whole module and its tests run)
    "airspace": (["airspace/crossing.py"],
                 ["tests/airspace/test_crossing.py", "tests/airspace/test_depth.py",
                  "tests/airspace/test_crossing_mutation.py",
                  "tests/airspace/test_crossing_outline_mutation.py"]),
    # (test_verify_bad_path exits 1, not 2, against mutmut's trampolined copy only: its
    # failure in mutmut's first pass would stop the run)
    "line": (["line/keys.py", "line/messages.py", "line/log.py", "line/deadlines.py"],
             ["tests/line/test_messages.py", "tests/line/test_log.py",
              "tests/line/test_deadlines.py", "tests/line/test_adversarial.py",
              "-k", "not test_verify_bad_path"]),
    # the same modules against the line's unit tests only (test_adversarial's real
    # processes cost up to a minute a mutant): the run over all their functions, where
    # the group above was run on its critical functions
    "line-units": (["line/keys.py", "line/messages.py", "line/log.py", "line/deadlines.py"],
                   ["tests/line/test_messages.py", "tests/line/test_log.py",
                    "tests/line/test_deadlines.py", "tests/line/test_deadlines_edges.py",
                    "tests/line/test_deadlines_subject_mutation.py",
                    "tests/line/test_deadlines_debts_mutation.py",
                    "tests/line/test_keys_mutation.py",
                    "tests/line/test_log_verify_mutation.py",
                    "tests/line/test_log_cross_check_mutation.py",
                    "tests/line/test_log_readonly_mutation.py",
                    "tests/line/test_messages_envelope_mutation.py",
                    "tests/line/test_messages_validate_mutation.py",
                    "tests/line/test_priority_mutation.py",
                    "-k", "not test_verify_bad_path"]),
}

#: modules whose numba kernels are run as plain Python in the copy: mutmut leaves
#: decorated functions alone, and a mutant of a compiled kernel would cost numba's
#: compilation (about 12 s for the grid's) on every run; the decorators are taken off
#: (the Python semantics numba compiles: same operations, same float64 results)
_UNJIT = {"tactical/_grid.py"}
_NJIT = re.compile(r"^@numba\.njit\(.*\)\n", re.MULTILINE)

_MUTMUT = ("import sys\n"
           "sys.path = [p for p in sys.path if not p.rstrip('/').endswith('/src')]\n"
           "from mutmut.__main__ import cli\n"
           "sys.argv = ['mutmut', *sys.argv[1:]]\n"
           "cli()\n")


def _toml_list(items: list[str]) -> str:
    return "[\n" + "".join(f'    "{i}",\n' for i in items) + "]"


_PIN_HYPOTHESIS = ("\n\n# added by tests/mutation/run.py: the same drawn cases in every run\n"
                   "from hypothesis import settings as _mutation_settings\n\n"
                   "_mutation_settings.register_profile('mutation', derandomize=True, "
                   "database=None)\n"
                   "_mutation_settings.load_profile('mutation')\n")


def copy_tests(dest: Path) -> None:
    """The working tree's ``tests/`` into ``dest``, hypothesis pinned (module doc)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "tests", dest,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"))
    conftest = dest / "conftest.py"
    conftest.write_text(conftest.read_text() + _PIN_HYPOTHESIS)


def resolve(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def prepare(group: str, workdir: Path, commit: str) -> None:
    """A fresh copy of the project in ``workdir`` with mutmut's configuration: the
    sources and ``pyproject.toml`` of ``commit``, the working tree's tests."""
    modules, tests = GROUPS[group]
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "src", "pyproject.toml"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    (workdir / "COMMIT").write_text(commit + "\n")
    copy_tests(workdir / "tests")
    for m in set(modules) & _UNJIT:
        module = workdir / "src/skyaccord" / m
        module.write_text(_NJIT.sub("", module.read_text()))
    targets = {f"src/skyaccord/{m}" for m in modules}
    others = sorted(str(p.relative_to(workdir)) for p in (workdir / "src").rglob("*.py")
                    if str(p.relative_to(workdir)) not in targets)
    config = (workdir / "pyproject.toml").read_text()
    config += ("\n[tool.mutmut]\n"
               'source_paths = ["src/skyaccord/"]\n'
               f"do_not_mutate = {_toml_list(others)}\n"
               f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
               # a subprocess left to the garbage collector by a killed mutant's
               # test must not fail mutmut's first pass at exit
               'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", '
               '"-W", "ignore::pytest.PytestUnraisableExceptionWarning"]\n')
    (workdir / "pyproject.toml").write_text(config)


def mutmut(workdir: Path, *args: str, capture: bool = False) -> str:
    r = subprocess.run([sys.executable, "-c", _MUTMUT, *args], cwd=workdir, text=True,
                       capture_output=capture, check=False)
    return r.stdout if capture else ""


def summary(workdir: Path) -> tuple[dict[str, int], list[str]]:
    out = mutmut(workdir, "results", "--all", "true", capture=True)
    counts: dict[str, int] = {}
    survivors = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        counts[status] = counts.get(status, 0) + 1
        if status != "killed":
            survivors.append(f"{name}: {status}")
    return counts, survivors


_PYTEST = ("import sys\n"
           "sys.path = [p for p in sys.path if not p.rstrip('/').endswith('/src')]\n"
           "sys.path.insert(0, 'src')\n"
           "import pytest\n"
           "sys.exit(pytest.main(sys.argv[1:]))\n")


def recheck(group: str, workdir: Path, survivors: list[str], extra: list[str],
            tests: list[str] | None = None, timeout_s: float = 600.0) -> list[str]:
    """The survivors that the current tests kill (see the module doc). The tests must
    pass first with no mutant switched on: a test that fails on the run's sources (one
    written for a later version of them, say) would count every mutant killed."""
    mutants = workdir / "mutants"
    copy_tests(mutants / "tests")
    tests = tests or GROUPS[group][1]

    def run(name: str) -> bool:
        env = {**os.environ, "MUTANT_UNDER_TEST": name}
        try:
            r = subprocess.run([sys.executable, "-c", _PYTEST, "-x", "-q", "-p",
                                "no:cacheprovider", "-p", "no:randomly", *tests, *extra],
                               cwd=mutants, env=env, capture_output=True, text=True,
                               timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            print(f"  {name}: timeout ({timeout_s:.0f} s, counted alive)", flush=True)
            return False
        if not name and r.returncode != 0:
            sys.exit("the tests fail on the run's sources with no mutant: no recheck\n"
                     + r.stdout[-3000:])
        return r.returncode != 0

    run("")
    killed = []
    for line in survivors:
        name = line.rpartition(": ")[0]
        dead = run(name)
        print(f"  {name}: {'killed' if dead else 'alive'}", flush=True)
        if dead:
            killed.append(name)
    return killed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("group", choices=sorted(GROUPS))
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--commit", default="HEAD",
                    help="the commit whose sources are mutated (default HEAD)")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--mutants", nargs="+", metavar="GLOB",
                    help="run only these mutants (mutmut names, * wildcards), e.g. "
                         "'skyaccord.line.keys.*': the most critical functions of a group "
                         "too big to run whole")
    ap.add_argument("--report-only", action="store_true",
                    help="print the results of a finished run in --workdir")
    ap.add_argument("--recheck", action="store_true",
                    help="run a finished run's survivors again against the current tests")
    ap.add_argument("-k", dest="keyword", help="with --recheck: a pytest -k expression")
    ap.add_argument("--tests", nargs="+", metavar="PATH",
                    help="with --recheck: these test files (and pytest arguments) instead "
                         "of the group's")
    ap.add_argument("--timeout-s", type=float, default=600.0,
                    help="with --recheck: seconds a mutant's tests may take (a mutant that "
                         "makes them hang is counted alive, as mutmut's timeouts are here)")
    ap.add_argument("--only", help="with --recheck: a regular expression the mutants' "
                                   "names must match")
    a = ap.parse_args()
    workdir = a.workdir or Path("/tmp/skyaccord-mutation") / a.group
    if not (a.report_only or a.recheck):
        commit = resolve(a.commit)
        print(f"{a.group}: mutating the sources of commit {commit}", flush=True)
        prepare(a.group, workdir, commit)
        mutmut(workdir, "run", "--max-children", str(a.max_children), *(a.mutants or []))
    if (workdir / "COMMIT").exists():
        print(f"sources of commit {(workdir / 'COMMIT').read_text().strip()}")
    counts, survivors = summary(workdir)
    # a run restricted with --mutants leaves the others "not checked": not counted
    unchecked = counts.pop("not checked", 0)
    survivors = [s for s in survivors if not s.endswith(": not checked")]
    total = sum(counts.values())
    killed = counts.get("killed", 0)
    print(f"{a.group}: {total} mutants, " + ", ".join(f"{v} {k}" for k, v in
                                                   sorted(counts.items())))
    if unchecked:
        print(f"({unchecked} mutants not checked: outside --mutants, or the run stopped)")
    if total:
        print(f"kill rate {100.0 * killed / total:.1f} %")
    if a.recheck:
        chosen = [s for s in survivors if re.search(a.only or "", s)]
        now = recheck(a.group, workdir, chosen, ["-k", a.keyword] if a.keyword else [],
                      a.tests, a.timeout_s)
        survivors = [s for s in survivors if s.rpartition(": ")[0] not in now]
        killed += len(now)
        print(f"{a.group} with the current tests: {killed} of {total} killed, "
              f"kill rate {100.0 * killed / total:.1f} %")
    for s in survivors:
        print("  " + s)


if __name__ == "__main__":
    main()
