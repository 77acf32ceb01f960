"""Route groups, each imported the first time a request needs it.

A Lambda cold start imports the app before it serves its first event, and
building a router's routes (signatures, dependencies, a pydantic schema for
every body and response) is most of what the app costs beyond FastAPI itself.
Imported up front, every group would be paid by every cold start: a player's
first `/s/...` would pay for cards, playlists, players, podcasts and routines
it never touches, and the bill would grow with each issue. So a group is
declared here by the path prefixes its routes live under and the modules
holding its routers; `install` puts a placeholder route in its place, which
imports and includes the group when a request's path first falls under one of
its prefixes. A cold start then pays for FastAPI plus the one group its event
needs (bench/cold_start.py).

What stays the same:
- order: a group's routers are included in the order listed, and they take
  the placeholder's place, so an earlier group still matches first;
- the OpenAPI document: building it loads every group first (`load_all`);
- everything FastAPI does per route (dependency overrides, exception
  handlers): the routers are included with `app.include_router` as before.
A long-running server calls `load_all` at start-up (the lifespan), so a
broken router fails there and no request waits for an import.

The placeholder replaces itself only while it handles a request (the router
has then stopped walking its route list); while matching it merely delegates,
so the list is never rebuilt under a running iteration.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, get_route_path
from starlette.types import Receive, Scope, Send


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
