"""The benchmarks, each run from the checkout as ``.venv/bin/python -m bench.NAME``.

Every bench takes ``--smoke``: tiny inputs, a few seconds, no thresholds, exit 0 when it ran.
tests/scenarios/test_bench_smoke.py runs each so, so that none can rot unseen (README: Benchmarks).
"""

SMOKE_HELP = "a few seconds on tiny inputs, no thresholds: exit 0 when it ran (CI runs this)"
