"""The indexed router answers exactly as Starlette's list order would: fixed paths by lookup, but never ahead
of an earlier route with parameters that takes the same path; 405s and slash redirects unchanged."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
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
