"""RFC 9457 problem documents for every refusal the API answers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    503: "Not ready",
}


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """A problem response: type, title, status, detail (and instance, extra members)."""
    doc: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        doc["instance"] = instance
    doc.update(extra)
    return web.Response(
        status=status, body=orjson.dumps(doc), content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )
