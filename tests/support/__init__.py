"""Harnesses shared by the tests and the benchmarks (``from tests.support... import``):
not part of the installed package."""
