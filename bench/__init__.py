"""Benchmark of the Moves backfill and of ``update_data`` against the local sandbox.

Run with ``make bench`` (or ``python -m bench.run --help``). Every figure is
measured side by side with a re-implementation of the original whole-file
design (``bench.seed_baseline``) on the same data.
"""
