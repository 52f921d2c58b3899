"""The event loop's own lane: a small query answered inside the HTTP protocol, with no ASGI cycle.

A query that ``fast_path.small_query`` lets run on the event loop costs ~0.1-0.2 ms of search;
around it, the ASGI cycle adds ~0.06 ms of server CPU (a task per request, the middleware chain,
the body read under its deadlines, two ``send`` messages: 0.419 against 0.357 ms per request,
benchmarks/results/http_layers.md). When such a request's body arrives in the same read as its
head, the server's httptools protocol (``limits.timed_httptools_protocol``) hands the whole
request to ``InlineLane`` before it starts a task, and writes the answer itself. The lane applies what the middleware would: the index-port
rewrite, then the guard (Host, Api-Key), then ``FastPath.answer_now``, so the status, headers and
body are those of the ASGI path (tested). Anything else it declines (None) and uvicorn serves as
usual: a refused key, a filter, a large namespace, a body still on its way, a second request in
the same read (pipelined requests take turns through uvicorn's pipeline, so one client cannot
hold the loop), ``Expect: 100-continue``, and requests with ``X-Forwarded-*`` headers (uvicorn's
proxy-headers middleware would rewrite their client address first).

The lane is built by ``create_app`` from the same three steps as its middleware; ASGI middleware
added to the app afterwards (CORS, metrics) does not see the requests the lane answers. An app
that adds some sets ``app.state.lane = None`` to serve every request through ASGI.
"""

from __future__ import annotations

from typing import Any

from .app import GuardMiddleware
from .fast_path import FastPath
from .limits import Answer


class InlineLane:
    """``lane(scope, body)``: the whole answer to a complete request, or None to serve it as usual."""

    def __init__(self, fast: FastPath, guard: GuardMiddleware | None = None, rewrite: Any = None) -> None:
        """``rewrite``: the app's ``index_hosts.IndexPortRewrite``, when index ports are served."""
        self.fast = fast
        self.guard = guard
        self.rewrite = rewrite
        self.answered = 0  # requests the lane answered (for tests and diagnostics)

    def __call__(self, scope: dict[str, Any], body: bytes) -> Answer | None:
        if any(name.startswith(b"x-forwarded-") for name, _ in scope["headers"]):
            return None
        if self.rewrite is not None:
            scope = self.rewrite.rewritten(scope)
        if self.guard is not None and self.guard.refusal(scope) is not None:
            return None  # the guard's own refusal is answered by the usual path
        answer = self.fast.answer_now(scope, body)
        if answer is not None:
            self.answered += 1
        return answer
