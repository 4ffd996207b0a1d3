"""Where the application is put together: the job handler table and the extension points.

Lower layers never look up what runs above them (docs/architecture.md, "Extension points"): the worker
is handed its handler table, and core calls hooks that the modules above registered. Both are built
here, from the modules that own each piece, and used by `create_app` (app.py) and the CLI (cli/), the
only two places a process starts.
"""

from __future__ import annotations

from fediverse_biz.business import mail_digests, mail_jobs, mail_subscriptions, verified_links
from fediverse_biz.core import cards
from fediverse_biz.core import hooks as core_hooks
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.federation import (
    delivery,
    directory_pull,
    directory_sources,
    group_relay,
    hall_members,
    outbox,
    polls,
)
from fediverse_biz.federation.inbound import dispatch
from fediverse_biz.jobs.contract import Handler


def job_handlers() -> dict[str, Handler]:
    """Every job kind the workers run, keyed by kind: the work is looked up by type, not chosen in an
    if-chain, and a kind without a handler fails loudly in the worker."""
    table: dict[str, Handler] = {}
    for part in (
        delivery.handlers(),  # sign and POST one activity
        dispatch.handlers(),  # process one stored inbox activity
        verified_links.handlers(),  # rel="me" checks of profile links
        directory_pull.handlers(),  # a peer's directory feeds ours
        hall_members.handlers(),  # the members of a remote hall we joined
        cards.handlers(),  # link preview cards of statuses
        polls.handlers(),  # a poll's counts go out (coalesced), and it ends at its time
        mail_jobs.handlers(),  # confirmation and update mails of e-mail subscribers
        mail_digests.handlers(),  # daily and weekly digests, each run queueing the next
    ):
        clash = table.keys() & part.keys()
        if clash:
            raise RuntimeError(f"job kinds with two handlers: {sorted(clash)}")
        table.update(part)
    return table


def hooks() -> Hooks:
    """The extension points with everything registered on them, in the order they run."""
    registry = Hooks()
    outbox.register(registry)  # a local status's activities go out
    group_relay.register(registry)  # a local hall relays its members' likes and deletions
    directory_sources.register(registry)  # joining a remote hall feeds the directory
    verified_links.register(registry)  # new profile links are checked
    polls.register(registry)  # our members' votes reach remote polls; votes on ours update them
    mail_subscriptions.register(registry)  # an organization's public posts are mailed; its subscribers go with it
    return registry


def install_hooks() -> Hooks:
    """Build the extension points and make them the ones core calls in this process."""
    registry = hooks()
    core_hooks.install(registry)
    return registry
