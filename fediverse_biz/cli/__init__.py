"""The `fediverse-biz` command. Each module here owns a group of sub-commands and registers them.

Every failure an operator can cause prints one line on stderr and exits non-zero (2 for a bad
setting or bad arguments, 1 otherwise) — never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, NoReturn

from fediverse_biz import __version__
from fediverse_biz.cli import accounts, admin, backup, serve
from fediverse_biz.cli._common import CliError, ensure_data_dir
from fediverse_biz.config import ConfigError, load_settings
from fediverse_biz.core import accounts as core_accounts

log = logging.getLogger("fediverse_biz")

# Sub-command groups in the order `--help` lists them.
_COMMAND_GROUPS = (serve, accounts, admin, backup)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fediverse-biz", description="A federated ActivityPub server for business communities.")
    parser.add_argument("--version", action="version", version=f"fediverse_biz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for group in _COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "host", None):
            overrides["host"] = args.host
        if getattr(args, "port", None) is not None:
            overrides["port"] = args.port
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"fediverse-biz: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    _setup_logging(settings.log_level)
    try:
        if getattr(args, "sets_up_data_dir", True):
            settings = ensure_data_dir(settings)
        args.func(settings, args)
    except CliError as exc:
        print(f"fediverse-biz: error: {exc}", file=sys.stderr)
        sys.exit(exc.status)
    except core_accounts.AccountError as exc:
        print(f"fediverse-biz: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
