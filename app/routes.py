"""How a URL finds its route: route groups imported the first time a request
needs one (so a cold start pays for one group, not the whole API), and the
concrete-first rule (a concrete path beats a templated one for every method,
as OpenAPI matches them). The reasoning is in docs/architecture.md, "How a
URL finds its route"."""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, get_route_path
from starlette.types import Receive, Scope, Send

# Route groups


@dataclass(frozen=True)
class RouteGroup:
    name: str
    prefixes: tuple[str, ...]  # every route of the group has a path under one of these...
    modules: tuple[str, ...]  # each holds a `router`; included in this order
    exact: tuple[str, ...] = ()  # ...or is one of these paths (`/api/health`, the UI's `/`)

    def covers(self, path: str) -> bool:
        return path in self.exact or any(
            path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in self.prefixes
        )


_DELEGATE = "yss.route_group.delegate"


class LazyRouteGroup(BaseRoute):
    """Stands where a group's routers go until a request needs them."""

    def __init__(self, app: FastAPI, group: RouteGroup) -> None:
        self.app = app
        self.group = group
        self.path = (*group.prefixes, *group.exact)[0]  # for reprs and debugging; never documented
        self._routes: list[BaseRoute] | None = None
        self._lock = threading.Lock()

    def load(self) -> list[BaseRoute]:
        """Import the group and include its routers (once); returns its routes."""
        if self._routes is not None:
            return self._routes
        with self._lock:
            if self._routes is None:
                table = self.app.router.routes
                before = len(table)
                for module in self.group.modules:
                    self.app.include_router(importlib.import_module(module).router)
                # include_router appended them; they belong where this placeholder stands.
                self._routes = table[before:]
                del table[before:]
                concrete_paths_first(self._routes)
        return self._routes

    def install(self) -> None:
        """Put the group's routes in this placeholder's place in the app's list."""
        routes = self.load()
        table = self.app.router.routes
        if self in table:
            at = table.index(self)
            table[at : at + 1] = routes
            self.app.router._mark_routes_changed()  # FastAPI caches what it derives from the list

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket") or not self.group.covers(get_route_path(scope)):
            return Match.NONE, {}
        partial: tuple[Scope, BaseRoute] | None = None
        for route in self.load():
            match, child = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child, _DELEGATE: route}
            if match is Match.PARTIAL and partial is None:
                partial = ({**child, _DELEGATE: route}, route)
        if partial is not None:
            return Match.PARTIAL, partial[0]
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_DELEGATE)
        self.install()
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.load():
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)


def install(app: FastAPI, groups: tuple[RouteGroup, ...]) -> None:
    """Add a placeholder per group, in order, and make the OpenAPI document load them all."""
    for group in groups:
        app.router.routes.append(LazyRouteGroup(app, group))
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        load_all(app)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]


def load_all(app: FastAPI) -> None:
    """Import every group not loaded yet (start-up of a long-running server, the OpenAPI document)."""
    for route in list(app.router.routes):
        if isinstance(route, LazyRouteGroup):
            route.install()


# Concrete paths first

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
    """For the routes the app holds itself; a route group applies
    `concrete_paths_first` to its own routes when it is loaded (a URL falls
    under one group only, so overlaps never span two)."""
    concrete_paths_first(app.routes)


def concrete_paths_first(routes: Sequence[BaseRoute]) -> None:
    """Concrete paths first (docs/architecture.md). Paths are the full ones (router prefixes
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
