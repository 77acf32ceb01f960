"""Method-and-path routing with `{name}` segments, answering 404 and 405 itself."""

from __future__ import annotations

import re
from collections.abc import Callable

from simulator.cloud.http import HttpError, Request, Response

Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method.upper(), re.compile(f"{regex}/?"), handler))

    def dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for method, regex, handler in self._routes:
            match = regex.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            request.params = match.groupdict()
            return handler(request)
        if allowed:
            raise HttpError(405, f"{request.method} is not allowed here", {"Allow": ", ".join(sorted(set(allowed)))})
        raise HttpError(404, f"No route for {request.method} {request.path}")
