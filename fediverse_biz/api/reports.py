"""Filing a report (https://docs.joinmastodon.org/methods/reports/): `POST /api/v1/reports`, answered with
the Report entity. The rules of a report are core/reports.py's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api import entities
from fediverse_biz.api._accounts import acting_actor
from fediverse_biz.api.auth import require
from fediverse_biz.api.errors import ApiError, domain_errors
from fediverse_biz.api.params import Params, read_params
from fediverse_biz.core import reports
from fediverse_biz.core.ids import parse_id
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.services import services


def _ids(params: Params, name: str) -> list[int]:
    ids = [parse_id(text) for text in params.get_list(name)]
    if any(i is None for i in ids):
        raise ApiError(422, f"Validation failed: {name} must be ids")
    return [i for i in ids if i is not None]


def report_entity(report: reports.Report, target_account: dict[str, Any]) -> dict[str, Any]:
    row = report.row
    return {
        "id": str(row["id"]),
        "action_taken": row["resolved_at"] is not None,
        "action_taken_at": entities.iso(row["resolved_at"]),
        "category": row["category"],
        "comment": row["comment"],
        "forwarded": row["forwarded"],
        "created_at": entities.iso(row["created_at"]),
        # Mastodon answers null, not [], for a report without statuses or rules
        "status_ids": [str(i) for i in row["status_ids"]] or None,
        "rule_ids": [str(i) for i in row["rule_ids"]] or None,
        "target_account": target_account,
    }


async def create(request: Request) -> Response:
    viewer = await require(request, "write:reports")
    reporter = await acting_actor(request, viewer)
    async with await read_params(request) as params:
        draft = reports.Draft(
            target_id=parse_id(params.get("account_id")),
            status_ids=_ids(params, "status_ids"),
            comment=params.get("comment") or "",
            category=params.get("category") or None,
            rule_ids=_ids(params, "rule_ids"),
            forward=params.get_bool("forward"),
        )
    svc = services(request)
    with domain_errors():
        report = await reports.file(svc.pool, reporter, svc.instance_actor, draft)
    return JSONResponse(report_entity(report, await entities.account(svc.pool, report.target, svc.urls)))


routes: list[BaseRoute] = [Route("/api/v1/reports", create, methods=["POST"])]
