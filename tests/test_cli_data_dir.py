"""The data directory's secret key when several processes start together on a fresh directory."""

from __future__ import annotations

import threading
from pathlib import Path

from fediverse_biz.cli._common import ensure_data_dir
from fediverse_biz.config import Settings, load_settings

STARTERS = 8


def start_together(settings: Settings) -> tuple[list[str], list[BaseException]]:
    """`ensure_data_dir` run by STARTERS threads released at the same moment: the keys read, the errors."""
    start = threading.Barrier(STARTERS)
    keys: list[str] = []
    errors: list[BaseException] = []

    def starter() -> None:
        start.wait()
        try:
            keys.append(ensure_data_dir(settings).secret_key)
        except BaseException as exc:  # any failure is the defect under test
            errors.append(exc)

    threads = [threading.Thread(target=starter) for _ in range(STARTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys, errors


def test_processes_starting_together_share_one_whole_secret_key(tmp_path: Path) -> None:
    for round_number in range(30):
        # given a fresh data directory
        data_dir = tmp_path / f"data{round_number}"
        # when eight starters make it at once
        keys, errors = start_together(load_settings({"FEDIVERSE_BIZ_DATA_DIR": str(data_dir)}))
        # then none failed, all read the same non-empty key, and no temporary file is left behind
        assert errors == []
        assert len(set(keys)) == 1 and len(keys[0]) >= 32
        assert sorted(path.name for path in data_dir.iterdir()) == ["media", "secret_key"]
        assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
