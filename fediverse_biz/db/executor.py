"""The one alias for "something that runs a statement": a pooled connection or the pool itself.

A function taking an Executor runs single statements, so the caller decides whether they join its
transaction (pass the connection) or run on their own (pass the pool).
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg

Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection
