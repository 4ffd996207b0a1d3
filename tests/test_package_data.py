"""Every data file the server reads ships in the wheel, and the code finds it through importlib.resources."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from fediverse_biz.package_data import package_file, schema_files

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fediverse_biz"


def shipped_patterns() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["fediverse_biz"]
    return patterns


def data_files() -> set[str]:
    """Every file in the package that is not Python source, through the schemas link as the build does."""
    found = set()
    for directory, _, names in os.walk(PACKAGE, followlinks=True):
        if "__pycache__" in directory:
            continue
        for name in names:
            if not name.endswith((".py", ".pyc")):
                found.add(str((Path(directory) / name).relative_to(PACKAGE)))
    return found


def test_every_data_file_in_the_package_matches_a_package_data_pattern() -> None:
    shipped = {str(path.relative_to(PACKAGE)) for pattern in shipped_patterns() for path in PACKAGE.glob(pattern)}
    missing = data_files() - shipped
    assert not missing, f"not in [tool.setuptools.package-data], so not in the wheel: {sorted(missing)}"


def test_the_schemas_link_is_the_repositorys_schemas_directory() -> None:
    link = PACKAGE / "schemas"
    assert link.is_symlink() and os.readlink(link) == "../schemas"
    assert link.resolve() == REPO / "schemas"


def test_the_schemas_are_found_through_importlib_resources() -> None:
    names = {entry.name for entry in schema_files(package_file("schemas", "activitystreams"))}
    assert {"activity.schema.json", "actor.schema.json", "object.schema.json"} <= names
    assert package_file("schemas", "openapi.json").is_file()
    assert package_file("web", "templates", "base.html").is_file()
