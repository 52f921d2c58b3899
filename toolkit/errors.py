"""Errors: one project error type, one subclass per reference-service error code.

Every error carries the HTTP status, the control-plane code string and the gRPC status
number the reference service uses for it (dataplane_spec §9), so the REST layer can render
either body shape and the Python caller can branch on ``.status`` or ``.code``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "UNKNOWN"
    grpc_code: ClassVar[int] = 2

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def dataplane_body(self) -> dict[str, Any]:
        """Return the google.rpc.Status JSON body the data plane answers with."""
        return {"code": self.grpc_code, "message": str(self), "details": []}

    def controlplane_body(self) -> dict[str, Any]:
        """Return the ``{"status", "error": {"code", "message"}}`` control-plane body."""
        return {"status": self.status, "error": {"code": self.code, "message": str(self)}}


class InvalidArgumentError(ToolkitError, ValueError):
    """A request that breaks a documented rule or limit (HTTP 400)."""

    status = 400
    code = "INVALID_ARGUMENT"
    grpc_code = 3


class FilterError(InvalidArgumentError):
    """A metadata filter that does not compile; ``path`` locates the clause, e.g. ``$and[1].price``."""


class UnauthenticatedError(ToolkitError):
    """A missing or wrong API key (HTTP 401)."""

    status = 401
    code = "UNAUTHENTICATED"
    grpc_code = 16


class ForbiddenError(ToolkitError):
    """Deletion protection or a permission rule refused the request (HTTP 403)."""

    status = 403
    code = "FORBIDDEN"
    grpc_code = 7


class QuotaExceededError(ForbiddenError):
    """A project or index quota is used up (HTTP 403)."""

    code = "QUOTA_EXCEEDED"


class NotFoundError(ToolkitError, KeyError):
    """An unknown index, namespace, backup or import (HTTP 404)."""

    status = 404
    code = "NOT_FOUND"
    grpc_code = 5

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


class AlreadyExistsError(ToolkitError):
    """A name that is already taken (HTTP 409)."""

    status = 409
    code = "ALREADY_EXISTS"
    grpc_code = 6


class FailedPreconditionError(ToolkitError):
    """The target is not in a state that allows the request (HTTP 412)."""

    status = 412
    code = "FAILED_PRECONDITION"
    grpc_code = 9


class RateLimitedError(ToolkitError):
    """A rate or monthly unit limit was reached (HTTP 429)."""

    status = 429
    code = "RESOURCE_EXHAUSTED"
    grpc_code = 8


class UnimplementedError(ToolkitError):
    """A feature the reference service has but this mode does not offer (HTTP 501)."""

    status = 501
    code = "UNIMPLEMENTED"
    grpc_code = 12


class InternalError(ToolkitError):
    """A bug or damaged state inside the toolkit (HTTP 500)."""

    status = 500
    code = "INTERNAL"
    grpc_code = 13


class UnavailableError(ToolkitError):
    """The store cannot serve the request right now, e.g. it is read-only (HTTP 503)."""

    status = 503
    code = "UNAVAILABLE"
    grpc_code = 14


class DataLossError(InternalError):
    """Stored data is damaged or missing: a checksum failed or a file is gone (DATA_LOSS)."""

    code = "DATA_LOSS"
    grpc_code = 15


class DeadlineExceededError(ToolkitError, TimeoutError):
    """A wait ran out of time, e.g. ``wait_for_lsn`` (HTTP 504)."""

    status = 504
    code = "DEADLINE_EXCEEDED"
    grpc_code = 4


__all__ = [
    "ToolkitError",
    "InvalidArgumentError",
    "FilterError",
    "UnauthenticatedError",
    "ForbiddenError",
    "QuotaExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "RateLimitedError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "DataLossError",
    "DeadlineExceededError",
]
