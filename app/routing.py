"""Concrete paths win over templated ones, for every method.

OpenAPI matches a URL to a concrete path (`/api/audio/uploads`) before a
templated one (`/api/audio/{item_id}`), so to the document `GET
/api/audio/uploads` is an operation that does not exist: the answer must be
405 with `Allow: POST`. Starlette instead tries routes in order and the first
one matching path AND method wins, so that GET reached `/{item_id}` with the
id "uploads" (and a 405 elsewhere listed `/{item_id}`'s methods in `Allow`).

`install_concrete_paths_first(app)` gives each route that some more specific
route overlaps the list of those routes; such a route then does not match a
path one of them matches. Where nothing overlaps (the stream route, most of
the API) the route is left as it is: no work per request. It runs on every
route group as it is loaded, so routers added later are covered without doing anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute, Match, get_route_path
from starlette.types import Scope

_PARAM = re.compile(r"{[^}]*}")


class ConcreteFirstRoute(APIRoute):
    """An `APIRoute` that does not match a URL one of the more specific
    routes' paths (`shadowed_by`, compiled full paths) matches."""

    shadowed_by: tuple[re.Pattern[str], ...] = ()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            path = get_route_path(scope)
            if any(regex.match(path) for regex in self.shadowed_by):
                return Match.NONE, {}
        return match, child_scope


def _segments(path: str) -> list[str] | None:
    """The path's segments, or None when a `:path` parameter spans several."""
    return None if ":path}" in path else path.strip("/").split("/")


def more_specific(concrete: str, templated: str) -> bool:
    """Whether `concrete` can match a URL `templated` matches and wins it:
    same segment count, every literal pair equal, and at the first segment
    where they differ in kind, `concrete` has the literal."""
    a, b = _segments(concrete), _segments(templated)
    if a is None or b is None or len(a) != len(b):
        return False
    winner = None
    for left, right in zip(a, b, strict=True):
        left_param, right_param = bool(_PARAM.search(left)), bool(_PARAM.search(right))
        if not left_param and not right_param and left != right:
            return False
        if winner is None and left_param != right_param:
            winner = right_param  # the literal side wins at the first difference
    return bool(winner)


def install_concrete_paths_first(app: FastAPI) -> None:
    """For the routes the app holds itself; a route group (`app.route_groups`)
    applies `concrete_paths_first` to its own routes when it is loaded (a URL
    falls under one group only, so overlaps never span two)."""
    concrete_paths_first(app.routes)


def concrete_paths_first(routes: Sequence[BaseRoute]) -> None:
    """See the module docstring. Paths are the full ones (router prefixes
    included), as the OpenAPI document has them."""
    contexts: list[Any] = [c for c in iter_route_contexts(routes) if c.path is not None]
    for context in contexts:
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        shadowed_by = tuple(other.path_regex for other in contexts if more_specific(other.path, context.path))
        if shadowed_by:
            route.__class__ = ConcreteFirstRoute
            # Routers are module-level, so every app built shares the route: merge, once each.
            known = {regex.pattern: regex for regex in (*getattr(route, "shadowed_by", ()), *shadowed_by)}
            route.shadowed_by = tuple(known.values())  # type: ignore[attr-defined]
