"""In CI (``CI`` set to true), a skip of a test CI is meant to run is a failure.

CI installs every extra (pyModeS, pyarrow, psycopg, playwright), Debian's chromium and
starts PostgreSQL (``.ci/run``);
a test that skips for want of one of them there would hide that an install step broke.
Elsewhere those skips stay skips. ``tests/conftest.py`` loads this hook.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator

import pytest

#: skip reasons that name something CI provides
CI_PROVIDES = re.compile(r"pyModeS|pyarrow|pandas|psycopg|SKYACCORD_PG_URL|chromium|playwright")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    if not (rep.skipped and in_ci()) or hasattr(rep, "wasxfail"):
        return rep
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if CI_PROVIDES.search(str(reason)):
        rep.outcome = "failed"
        rep.longrepr = f"skipped in CI, where it must run: {reason}"
    return rep
