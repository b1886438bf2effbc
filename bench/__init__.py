"""Side-by-side benchmark of the portal and the reference `mlflow server` (issue 6).

Run it with `python -m bench.run --scale small|full` (or `make bench`). It is not part of the
test suite; tests/bench/test_harness.py only checks that the harness still works.
"""
