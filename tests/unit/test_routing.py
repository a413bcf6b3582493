"""The indexed router answers exactly as Starlette's list order would: fixed paths by lookup, but never ahead
of an earlier route with parameters that takes the same path; 405s and slash redirects unchanged."""

import asyncio

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from runapi.api.routing import IndexedRouter


def answer(text):
    async def endpoint(request):
        return PlainTextResponse(text + "".join(f":{v}" for v in request.path_params.values()))

    return endpoint


def client():
    routes = [
        Route("/items/{id}", answer("param")),
        Route("/items/special", answer("fixed-shadowed")),
        Route("/v1/chat", answer("chat"), methods=["POST"]),
        Route("/v1/chat", answer("chat-get"), methods=["GET"]),
        Route("/only-get", answer("only-get"), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.router = IndexedRouter(app.router.routes)
    return TestClient(app)


def test_fixed_paths_and_precedence():
    c = client()
    assert c.post("/v1/chat").text == "chat" and c.get("/v1/chat").text == "chat-get"
    assert c.get("/items/special").text == "param:special"  # the earlier route with parameters still wins
    assert c.get("/items/7").text == "param:7"


def test_method_not_allowed_and_not_found_and_redirects_unchanged():
    c = client()
    assert c.post("/only-get").status_code == 405
    assert c.get("/nowhere").status_code == 404
    r = c.get("/only-get/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith("/only-get")


def routed(router, method, path):
    """Which route `router` hands (method, path) to, and with what path params (None: none of them)."""
    seen = {}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    async def run():
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
        try:
            await router.app(scope, receive, send)
        except HTTPException as exc:  # the 405 (routes raise it inside an app)
            assert exc.status_code == 405
        seen["route"] = scope.get("route")
        seen["params"] = scope.get("path_params")

    asyncio.run(run())
    return seen["route"], seen["params"]


def test_routes_with_parameters_are_found_as_the_list_scan_finds_them():
    """Every route of a list full of parameters, mid-segment ones, path convertors and method clashes is
    handed the same requests by the index as by Starlette's scan; and only the routes under the path's own
    prefixes are tried (a task poll tries a handful of the app's hundreds)."""
    routes = [
        Route("/api/v1/{family}/{task_id:uuid}", answer("family")),
        Route("/api/v1/a/x", answer("x"), methods=["POST"]),
        Route("/api/v1/a/x/{task_id}", answer("x-status")),
        Route("/api/v1/a/x/{task_id}/cancel", answer("x-cancel"), methods=["POST"]),
        Route("/api/v1/a/y/{task_id}", answer("y-status")),
        Route("/files/{name}.json", answer("json-file")),
        Route("/files/{rest:path}", answer("any-file")),
        Route("/api/v1/tasks", answer("tasks")),
        Route("/api/v1/tasks/{task_id}/callbacks", answer("callbacks")),
        Route("/{anything}", answer("catch-all"), methods=["PUT"]),
    ]
    indexed, plain = IndexedRouter(routes), Router(routes)
    requests = [
        ("GET", "/api/v1/a/x/123"),
        ("GET", "/api/v1/a/x/0b7c5a3e-1111-4222-8333-444455556666"),  # the family route comes first
        ("POST", "/api/v1/a/x/123/cancel"),
        ("GET", "/api/v1/a/x/123/cancel"),  # 405
        ("DELETE", "/api/v1/a/x/123"),  # 405
        ("GET", "/api/v1/a/y/7"),
        ("GET", "/files/a.json"),
        ("GET", "/files/a/b/c.txt"),
        ("GET", "/api/v1/tasks/9/callbacks"),
        ("PUT", "/zzz"),
        ("GET", "/zzz"),  # 405 from the catch-all
    ]
    for method, path in requests:
        assert routed(indexed, method, path) == routed(plain, method, path), (method, path)
        assert routed(indexed, method, path)[0] is not None, (method, path)
    assert [r.path for r in indexed.candidates("/api/v1/a/x/123")] == [
        "/api/v1/{family}/{task_id:uuid}",
        "/api/v1/a/x/{task_id}",
        "/api/v1/a/x/{task_id}/cancel",
        "/{anything}",
    ]


def test_the_apps_own_routes_are_found_as_the_list_scan_finds_them(tmp_path, monkeypatch):
    """Every route of the real app (media actions, families, LLM, console, ...), asked with each of its
    methods and one it lacks, goes where Starlette's scan sends it."""
    import re
    import uuid

    from starlette.routing import BaseRoute, Mount

    from runapi.app import create_app
    from runapi.settings import Settings

    async def nothing(self, scope, receive, send):
        pass

    monkeypatch.setattr(Route, "handle", nothing)
    monkeypatch.setattr(Mount, "handle", nothing)
    app = create_app(Settings(data_dir=tmp_path))
    indexed = app.router
    assert isinstance(indexed, IndexedRouter)
    plain = Router(indexed.routes)
    tried = 0
    for route in indexed.routes:
        path = getattr(route, "path", None)
        if not isinstance(route, BaseRoute) or not path:
            continue
        sample = re.sub(r"\{[^}:]+:uuid\}", str(uuid.UUID(int=7)), path)
        sample = re.sub(r"\{[^}:]+:path\}", "a/b.txt", sample)
        sample = re.sub(r"\{[^}]+\}", "x1", sample)
        for method in sorted(getattr(route, "methods", None) or {"GET"}) + ["PATCH"]:
            assert routed(indexed, method, sample) == routed(plain, method, sample), (method, sample)
            tried += 1
    assert tried > 300
