"""Every job kind the workers know, in one table (STYLE.md: work keyed by type, not an if-chain)."""

from __future__ import annotations

from .worker import Handler


def all_handlers() -> dict[str, Handler]:
    # Imported here: handler modules import worker.py for WorkerContext and the error types.
    from ..business.verified_links import handlers as verified_links_handlers  # rel="me" checks
    from .delivery import handlers as delivery_handlers
    from .directory_pull import handlers as directory_pull_handlers
    from .hall_members import handlers as hall_members_handlers
    from .inbox_handlers import inbox_handlers

    return {
        **delivery_handlers(),
        **inbox_handlers(),
        **verified_links_handlers(),
        **directory_pull_handlers(),
        **hall_members_handlers(),
    }
