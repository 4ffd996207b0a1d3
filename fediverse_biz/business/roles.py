"""Which team role may do what on behalf of an organization — the one table every door consults.

A token issued for an organization carries no role: the role is read from organization_members
when the token is used, so a demotion or a removal applies to every live token at once.
A personal account (acting for nobody but its owner) is not limited by this table.

The table (docs/teams.md has the reasons):

    permission   what it covers                                        owner manager editor contributor
    POST         write a status (a contributor's is held for review)     x      x      x       x
    PUBLISH      post without review                                     x      x      x
    EDIT_OTHERS  edit / delete a post someone else on the team wrote     x      x      x
    INTERACT     favourite, boost, pin (they speak for the company)      x      x      x
    FOLLOW       follow, unfollow, answer follow requests                x      x      x
    BLOCK        block, unblock, mute, unmute, remove a follower         x      x
    PROFILE      edit the public profile                                 x      x
    REVIEW       see the queue, approve and reject held posts            x      x
    MEMBERS      invite, change roles, remove members (not owners)       x      x
    OWNERS       make, demote or remove owners; invite owners            x
    AUDIT        read the audit log                                      x      x

Everyone on the team may upload media, bookmark, read timelines and notifications, list the
team, and edit or delete their own posts (a contributor only while the post is still held:
changing a published post would bypass the review).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"


class Permission(StrEnum):
    POST = "post"
    PUBLISH = "publish"
    EDIT_OTHERS = "edit_others"
    INTERACT = "interact"
    FOLLOW = "follow"
    BLOCK = "block"
    PROFILE = "profile"
    REVIEW = "review"
    MEMBERS = "members"
    OWNERS = "owners"
    AUDIT = "audit"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
# Strongest first: the order the team list is shown in.
RANK = {role: n for n, role in enumerate(ROLES)}

_EVERYONE = frozenset(Role)
_STAFF = frozenset({Role.OWNER, Role.MANAGER, Role.EDITOR})
_MANAGEMENT = frozenset({Role.OWNER, Role.MANAGER})

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.POST: _EVERYONE,
    Permission.PUBLISH: _STAFF,
    Permission.EDIT_OTHERS: _STAFF,
    Permission.INTERACT: _STAFF,
    Permission.FOLLOW: _STAFF,
    Permission.BLOCK: _MANAGEMENT,
    Permission.PROFILE: _MANAGEMENT,
    Permission.REVIEW: _MANAGEMENT,
    Permission.MEMBERS: _MANAGEMENT,
    Permission.OWNERS: frozenset({Role.OWNER}),
    Permission.AUDIT: _MANAGEMENT,
}


def allows(role: str | None, permission: Permission) -> bool:
    """Whether `role` may do `permission`; None (a personal account, acting for itself) may do all."""
    if role is None:
        return True
    return role in ROLES and Role(role) in PERMISSIONS[permission]


def member_may(role: str | None, permission: Permission) -> bool:
    """Like `allows`, for a role looked up in an organization's team: None there means "not a member"."""
    return role is not None and allows(role, permission)


def needs_review(role: str | None) -> bool:
    """A post written under this role is held until an owner or manager approves it."""
    return not allows(role, Permission.PUBLISH)


def valid_role(text: str | None) -> str | None:
    """The role named by `text` (any case, surrounding spaces ignored), or None."""
    value = (text or "").strip().lower()
    return value if value in ROLES else None


def may_assign(actor_role: str | None, new_role: str) -> bool:
    """Whether someone with `actor_role` may give `new_role` (by invitation, addition or change)."""
    needed = Permission.OWNERS if new_role == Role.OWNER else Permission.MEMBERS
    return member_may(actor_role, needed)


def may_change(actor_role: str | None, current_role: str) -> bool:
    """Whether someone with `actor_role` may change or remove a member who now has `current_role`:
    only an owner touches an owner."""
    needed = Permission.OWNERS if current_role == Role.OWNER else Permission.MEMBERS
    return member_may(actor_role, needed)
