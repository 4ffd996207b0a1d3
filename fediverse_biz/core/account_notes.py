"""Private notes about accounts (https://docs.joinmastodon.org/methods/accounts/#note): one text per author
and account, shown as `note` in the author's Relationship with that account and to nobody else.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from fediverse_biz.core.errors import DomainError

MAX_COMMENT: Final = 2000  # Mastodon's AccountNote: "is too long (maximum is 2000 characters)"


def note_sql(author: str, target: str) -> str:
    """SQL expression: the author's note about the target, '' when there is none."""
    return f"""coalesce((SELECT n.comment FROM account_notes n
                          WHERE n.actor_id = {author} AND n.target_actor_id = {target}), '')"""


async def set_note(pool: asyncpg.Pool, author_id: int, target_id: int, comment: str) -> None:
    """Write the note; an empty one removes it, as Mastodon destroys a blank AccountNote."""
    if len(comment) > MAX_COMMENT:
        raise DomainError(f"Validation failed: comment is too long (maximum is {MAX_COMMENT} characters)")
    if not comment.strip():
        await pool.execute(
            "DELETE FROM account_notes WHERE actor_id = $1 AND target_actor_id = $2", author_id, target_id
        )
        return
    await pool.execute(
        """INSERT INTO account_notes (actor_id, target_actor_id, comment) VALUES ($1, $2, $3)
           ON CONFLICT (actor_id, target_actor_id) DO UPDATE SET comment = $3, updated_at = now()""",
        author_id,
        target_id,
        comment,
    )
