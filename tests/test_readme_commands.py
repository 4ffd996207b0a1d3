"""CI runs the README's two Quick start commands as a user types them (.ci/run, .ci/serve-check).

The README is what a new user copies; a CI that installs differently (editable, say) would stay green
while the user's first command fails. These tests read both files and fail when they drift apart.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)]


def ci_lines(name: str = "run") -> list[str]:
    """The commands of a CI script, comments and blank lines left out."""
    text = (REPO / ".ci" / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_has_the_two_quick_start_commands() -> None:
    first, second = quick_start_commands()
    assert first.endswith("fediverse-biz serve")
    assert "pip install ." in first and " -e " not in first  # a user's install is not editable
    assert second.endswith("-m pytest")


def test_ci_runs_the_first_command_install_and_then_its_serve_from_outside_the_tree() -> None:
    first, _ = quick_start_commands()
    install, serve = first.rsplit(" && ", 1)
    program, subcommand = shlex.split(serve)
    assert subcommand == "serve"
    lines = ci_lines()
    assert install in lines, f".ci/run no longer runs the README's install: {install!r}"
    serve_check = f".ci/serve-check {program}"
    assert serve_check in lines, f".ci/run no longer starts the README's {serve!r}"
    assert lines.index(install) < lines.index(serve_check)
    # and the checker really starts that program's `serve` from another directory and waits for /healthz
    checker = "\n".join(ci_lines("serve-check"))
    assert 'cd "$outside"' in checker
    assert '"$command" serve' in checker
    assert "/healthz" in checker


def test_ci_runs_the_second_command_word_for_word_after_the_first() -> None:
    first, second = quick_start_commands()
    lines = ci_lines()
    assert second in lines, f".ci/run no longer runs the README's test command: {second!r}"
    assert lines.index(first.rsplit(" && ", 1)[0]) < lines.index(second)
