"""Benchmarks: one module per engine, each runnable as ``python -m benchmarks.<engine>``.

``python -m benchmarks`` runs them all. Each prints a table and writes JSON under
``benchmarks/results/``. Speed targets are checked here, never in unit tests.
"""
