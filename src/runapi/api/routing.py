"""A Starlette router that finds its routes by dictionary lookup. The app has a couple of hundred routes (two
per catalog action), and Starlette tries them one regex at a time: the LLM endpoints, registered after the
media ones, paid for ~160 failed matches per call, about a tenth of the gateway's CPU; a task poll
(/api/v1/<family>/<action>/<id>) about a third of its CPU.

Fixed paths are found by lookup. A route with parameters is filed under its literal prefix up to the last "/"
before its first parameter (a fixed one under its path): only paths starting with that prefix can match it, so a request tries just the
routes filed under the prefixes of its own path (and any route that is not a plain `Route`), in the list's
order: the same first full match, or the same first method mismatch (405), as Starlette's scan of the list."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


class IndexedRouter(Router):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed: dict[str, list[Route]] = {}
        for i, route in enumerate(self.routes):
            if not isinstance(route, Route) or route.param_convertors:
                continue
            # Only where the order of the list cannot matter: no earlier route with parameters takes this path.
            shadowed = any(
                isinstance(r, Route) and r.param_convertors and r.path_regex.match(route.path) for r in self.routes[:i]
            )
            if not shadowed:
                self._fixed.setdefault(route.path, []).append(route)
        # every route, by the prefix only the paths it can match start with (position kept: the list's order)
        self._by_prefix: dict[str, list[tuple[int, BaseRoute]]] = {}
        self._anywhere: list[tuple[int, BaseRoute]] = []  # not plain Routes (mounts, ...): always tried
        for i, route in enumerate(self.routes):
            if isinstance(route, Route) and not route.param_convertors:  # a fixed path: filed under itself
                self._by_prefix.setdefault(route.path, []).append((i, route))
            elif isinstance(route, Route):
                literal = route.path.split("{", 1)[0]
                self._by_prefix.setdefault(literal[: literal.rfind("/") + 1], []).append((i, route))
            else:
                self._anywhere.append((i, route))

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that can match `path`, in the list's order (the others' patterns cannot: their literal
        prefix is not one of the path's)."""
        found = list(self._anywhere)
        end = path.find("/")
        while end != -1:
            found += self._by_prefix.get(path[: end + 1], ())
            end = path.find("/", end + 1)
        if not path.endswith("/"):  # (a path ending in "/" was looked up whole above)
            found += self._by_prefix.get(path, ())
        found.sort(key=_position)
        return [route for _i, route in found]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self._fixed.get(scope["path"], ()):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    await self._enter(route, child_scope, scope, receive, send)
                    return
            partial: tuple[BaseRoute, Scope] | None = None
            for candidate in self.candidates(scope["path"]):
                match, child_scope = candidate.matches(scope)
                if match is Match.FULL:
                    await self._enter(candidate, child_scope, scope, receive, send)
                    return
                if match is Match.PARTIAL and partial is None:
                    partial = candidate, child_scope
            if partial is not None:  # the path is a route's, the method is not: its 405
                await self._enter(*partial, scope, receive, send)
                return
        await super().app(scope, receive, send)  # no route: Starlette's own redirects and 404s

    async def _enter(self, route: BaseRoute, child_scope: Scope, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to `route`, as Starlette's Router.app does once it has chosen one."""
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)


def _position(entry: tuple[int, BaseRoute]) -> int:
    return entry[0]
