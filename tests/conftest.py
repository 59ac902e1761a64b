"""Hooks for the whole suite."""

from tests._ci import pytest_runtest_makereport

__all__ = ["pytest_runtest_makereport"]
