"""Worker identities that say whether their process is still alive, so a starting worker can take back
the leases of a dead one at once instead of waiting for them to run out (docs/jobs.md, "Crashes").

An identity (`jobs.locked_by`) reads `host:pid:random@place.start`:
- `host` and `pid` are for people reading the table;
- `random` tells apart the Worker objects of one process (tests run several);
- `place` names this kernel boot and PID namespace (a hash of both): the only place where `pid` means this
  process. Only a worker in the same place can look it up; anywhere else — another machine, another
  container — the holder is left alone, whatever its pid;
- `start` is the process's start time (clock ticks since boot, /proc/<pid>/stat): a pid reused by a later
  process has another start time, so a recycled pid never makes a dead holder look alive, and a live
  process is never mistaken for a dead one.

Without /proc (not Linux) identities are the old `host:pid:random` and nothing is reclaimed early.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from pathlib import Path

_IDENTITY = re.compile(r"^[^@]*:(?P<pid>\d+):[0-9a-f]+@(?P<place>[0-9a-f]{12})\.(?P<start>\d+)$")


def _place() -> str | None:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot}/{namespace.st_dev}/{namespace.st_ino}".encode()).hexdigest()[:12]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) of a process as /proc shows it, or None if it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)", where comm may hold spaces and parentheses
    return fields[0], int(fields[19])  # fields 3 and 22 of proc(5)


PLACE = _place()


def new_identity() -> str:
    """An identity for a Worker of this process."""
    base = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    own = _stat(os.getpid())
    if PLACE is None or own is None:
        return base
    return f"{base}@{PLACE}.{own[1]}"


def holders_here_pattern() -> str | None:
    """A LIKE pattern matching the identities of this place, or None when there are none to look up."""
    return None if PLACE is None else f"%@{PLACE}.%"


def is_dead(identity: str) -> bool:
    """True only when `identity` names a process of this place that has certainly ended: no such pid, a
    zombie, or a pid now used by a process started at another time. Anything unsure is alive."""
    match = _IDENTITY.match(identity)
    if match is None or PLACE is None or match["place"] != PLACE:
        return False
    pid = int(match["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user; /proc tells whether it is the same process
    seen = _stat(pid)
    if seen is None:
        return False  # exists but unreadable (/proc mounted with hidepid): assume it is the holder
    state, start = seen
    return state == "Z" or start != int(match["start"])
