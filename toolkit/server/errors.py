"""Errors on the wire: toolkit errors rendered in the body shape and status the SDK maps.

Control plane (``/indexes``...): ``{"status": 404, "error": {"code": "NOT_FOUND", "message": ...}}``.
Data plane (``/index/{name}/...``): google.rpc.Status ``{"code": 5, "message": ..., "details": []}``.
The SDK turns 400 into ``ApiError``, 401 ``UnauthorizedError``, 403 ``ForbiddenError``,
404 ``NotFoundError``, 409 ``ConflictError``, 429 ``RateLimitError`` and 5xx ``ServiceError``
(sdk_wire §5; dataplane_spec §9).
"""

from __future__ import annotations

import logging
from typing import Literal

from starlette.responses import Response

from ..errors import InternalError, NotFoundError, ToolkitError, UnimplementedError
from .wire import dumps

Plane = Literal["control", "data"]
logger = logging.getLogger("toolkit.server")

RETRY_AFTER_SECONDS = "1"  # small, so retrying SDKs do not stall (sdk_wire §5)


def error_body(exc: ToolkitError, plane: Plane) -> dict:
    return exc.controlplane_body() if plane == "control" else exc.dataplane_body()


def error_response(exc: ToolkitError, plane: Plane, headers: dict[str, str] | None = None) -> Response:
    """Render a toolkit error with its status and the plane's body shape."""
    out = dict(headers or {})
    if exc.status == 429:
        out["retry-after"] = RETRY_AFTER_SECONDS
    return Response(dumps(error_body(exc, plane)), status_code=exc.status, headers=out,
                    media_type="application/json")


def unexpected(exc: BaseException, plane: Plane, headers: dict[str, str] | None = None) -> Response:
    """A bug: log it with its traceback and answer 500 without leaking internals."""
    logger.error("unhandled error while serving a request", exc_info=exc)
    return error_response(InternalError(f"internal error ({type(exc).__name__}); see the server log"), plane,
                          headers)


def not_found_route(method: str, path: str) -> NotFoundError:
    return NotFoundError(f"no route for {method} {path}")


def unsupported(what: str) -> UnimplementedError:
    return UnimplementedError(f"{what} is not supported by the toolkit server")


def plane_of(path: str) -> Plane:
    return "data" if path.startswith("/index/") else "control"
