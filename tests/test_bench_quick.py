"""The benchmark suite's quick mode still runs end to end (bench/, docs/benchmarks.md).

Given the quick sizes, when `python -m bench.run --quick` runs against a freshly started server,
then its JSON report has every benchmark with a numeric figure, ceiling and ratio. Speed is never
asserted here: figures belong to the benchmark report, not to the test suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = ("inbox_ingest", "fanout", "home_timeline", "posting", "footprint")


def test_quick_benchmark_run_reports_every_benchmark(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_") and k != "DATABASE_URL"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "quick"
    for name in BENCHMARKS:
        bench = report["benchmarks"][name]
        assert bench["error"] is None, (name, bench["error"])
        for field in ("figure", "ceiling", "ratio"):
            value = bench[field]
            assert isinstance(value, int | float) and math.isfinite(value), (name, field, value)
        assert bench["goals"] or name == "posting", name
    assert (tmp_path / "report.md").read_text().startswith("# fediverse_biz benchmarks")
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
