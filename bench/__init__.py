"""Benchmarks: one command runs the suite against a freshly started server and reports figures, the
ceiling measured in the same run, and their ratio (`python -m bench.run [--quick] [--out DIR]`).

Scripts that print figures, never timed assertions in tests (DESIGN.md). See docs/benchmarks.md.
"""
