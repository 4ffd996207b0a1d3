"""Benchmarks: one command runs the suite against a freshly started server and reports figures, the
ceiling measured in the same run, and their ratio (`python -m bench.run [--quick] [--out DIR]`).

Scripts that print figures, never timed assertions in tests: timings vary from machine to machine, so a
test that asserted one would fail for reasons unrelated to the code. See docs/benchmarks.md.
"""
