"""A finished run's survivors rechecked in one Python process (``run.py --recheck``
starts pytest once per mutant: seconds of imports each, minutes for a few hundred).

mutmut's trampolines read ``MUTANT_UNDER_TEST`` at every call, so one process can switch
the mutants on one after the other and run the given tests again with ``pytest.main``.
Run it in the run's ``mutants/`` directory (where ``run.py --recheck`` has copied the
current tests, or copy them there), the tests passing with no mutant first::

    cd /tmp/skyaccord-mutation/line-units/mutants
    python "$REPO/tests/mutation/recheck_inprocess.py" names.txt out.txt -- \
        tests/line/test_log_verify_mutation.py

``names.txt``: one mutant name a line (``run.py GROUP --report-only`` lists them);
``out.txt`` gets ``NAME killed`` or ``NAME alive`` a line. Order the test files so that
the one meant to kill a function's mutants comes first (``-x`` stops at the first
failure). A test that leaves state behind could make a later mutant look killed:
confirm a sample with ``run.py --recheck --only``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys


def main() -> None:
    # the mutants' sources, not the editable install's
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("/src")]
    sys.path.insert(0, "src")
    import pytest

    names_file, out_file = sys.argv[1], sys.argv[2]
    args = sys.argv[sys.argv.index("--") + 1:]
    base = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning"]
    with open(names_file) as fh:
        names = [line.strip() for line in fh if line.strip()]

    def run(name: str) -> tuple[int, str]:
        os.environ["MUTANT_UNDER_TEST"] = name
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = pytest.main(base + args)
        return int(rc), buf.getvalue()

    rc, text = run("")
    if rc != 0:
        sys.exit("the tests fail with no mutant: no recheck\n" + text[-3000:])
    with open(out_file, "w") as out:
        for name in names:
            rc, _ = run(name)
            print(name, "killed" if rc != 0 else "alive", file=out, flush=True)


if __name__ == "__main__":
    main()
