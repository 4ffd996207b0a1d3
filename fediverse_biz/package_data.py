"""The data files that ship inside the package: JSON Schemas, JSON-LD contexts, templates, static files.

They are read through `importlib.resources`, never by a path relative to the source tree, so the server
finds them wherever it is installed (a wheel in site-packages, an editable checkout). The top-level
`schemas/` directory of the repository is the schemas' home; the package reaches it as
`fediverse_biz/schemas` (a symbolic link in the repository, real files in a built wheel or sdist).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

PACKAGE = "fediverse_biz"


def package_file(*parts: str) -> Traversable:
    """A file or directory inside the installed package, e.g. `package_file("schemas", "mastodon")`."""
    return files(PACKAGE).joinpath(*parts)


def schema_files(directory: Traversable) -> list[Traversable]:
    """The `*.schema.json` files of a schema directory, in name order (the order `$ref`s are registered)."""
    return sorted((entry for entry in directory.iterdir() if entry.name.endswith(".schema.json")),
                  key=lambda entry: entry.name)
