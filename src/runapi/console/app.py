"""The console's routes, mounted by the API's application at /console (same process, same services).

`ConsoleApp` wraps them: it hands the console's state to the pages (through the ASGI scope) and puts the
security headers on every answer — a Content-Security-Policy that allows only our own scripts and styles
(htmx is served from the package, never a CDN), no framing, no caching of pages that show secrets, and no
Referer leaving the console."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from .. import files_policy
from .context import SCOPE_KEY, ConsoleState
from .pages import callback_secret, chat, guardrails, keys, operator, overview, playground, signin, tasks, usage
from .session import current_session, viewer_for
from .web import error_page, page

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "media-src 'self' blob: http: https:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")
# Bodies the console accepts: a form, or the playground's files (a few inputs of the files API's size).
MAX_FORM_BYTES = 1 << 20
MAX_UPLOAD_FORM_BYTES = 2 * files_policy.LOCAL_MAX_BYTES


async def home(request: Request) -> Response:
    return RedirectResponse("/console/overview", status_code=303)


async def not_found(request: Request) -> Response:
    session = await current_session(request)
    viewer = viewer_for(request, session) if session else None
    return await error_page(request, viewer, 404, "There is no such page in the console.")


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/sign-in", signin.sign_in_page, methods=["GET"]),
        Route("/sign-in", signin.sign_in, methods=["POST"]),
        Route("/sign-in/link", signin.link_page, methods=["GET"]),
        Route("/sign-in/link", signin.redeem_link, methods=["POST"]),
        Route("/sign-out", page(signin.sign_out), methods=["POST"]),
        Route("/account", page(signin.switch_account), methods=["POST"]),
        Route("/overview", page(overview.overview), methods=["GET"]),
        Route("/keys", page(keys.list_page), methods=["GET"]),
        Route("/keys", page(keys.create), methods=["POST"]),
        Route("/keys/{id}", page(keys.detail_page), methods=["GET"]),
        Route("/keys/{id}", page(keys.update), methods=["POST"]),
        Route("/keys/{id}/enabled", page(keys.set_enabled), methods=["POST"]),
        Route("/keys/{id}/delete", page(keys.delete), methods=["POST"]),
        Route("/guardrails", page(guardrails.list_page), methods=["GET"]),
        Route("/guardrails", page(guardrails.create), methods=["POST"]),
        Route("/guardrails/assignments", page(guardrails.assign), methods=["POST"]),
        Route("/guardrails/assignments/{id}/delete", page(guardrails.unassign), methods=["POST"]),
        Route("/guardrails/{id}", page(guardrails.detail_page), methods=["GET"]),
        Route("/guardrails/{id}", page(guardrails.update), methods=["POST"]),
        Route("/guardrails/{id}/delete", page(guardrails.delete), methods=["POST"]),
        Route("/callback-secret", page(callback_secret.show), methods=["GET"]),
        Route("/callback-secret/rotate", page(callback_secret.rotate), methods=["POST"]),
        Route("/callback-secret/allowlist", page(callback_secret.set_allowlist), methods=["POST"]),
        Route("/tasks", page(tasks.list_page), methods=["GET"]),
        Route("/tasks/{id}", page(tasks.detail_page), methods=["GET"]),
        Route("/tasks/{id}/cancel", page(tasks.cancel), methods=["POST"]),
        Route("/tasks/{id}/replay", page(tasks.replay), methods=["POST"]),
        Route("/usage", page(usage.usage_page), methods=["GET"]),
        Route("/usage.csv", page(usage.usage_csv), methods=["GET"]),
        Route("/playground", page(playground.playground), methods=["GET"]),
        Route("/playground/form", page(playground.picker), methods=["GET"]),
        Route("/playground/run", page(playground.run), methods=["POST"]),
        Route("/playground/tasks/{id}", page(playground.task), methods=["GET"]),
        Route("/chat", page(chat.chat_page), methods=["GET"]),
        Route("/chat", page(chat.send), methods=["POST"]),
        Route("/operator", page(operator.operator_page, operator=True), methods=["GET"]),
        Route("/operator/credits", page(operator.add_credits, operator=True), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="console-static"),
        Route("/{path:path}", not_found, methods=["GET", "POST"]),
    ]


class ConsoleApp:
    """The console's router with its state in the scope and its security headers on every answer."""

    def __init__(self) -> None:
        self.state = ConsoleState()
        self.router = Router(routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        scope[SCOPE_KEY] = self.state
        if too_large(scope):
            await PlainTextResponse("Request body too large", status_code=413)(scope, receive, send)
            return
        static = scope["path"].startswith(f"{scope.get('root_path', '')}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += HEADERS if static else [*HEADERS, NO_STORE]
                message = {**message, "headers": headers}
            await send(message)

        await self.router(scope, receive, send_with_headers)


def too_large(scope: Scope) -> bool:
    """A declared body over what the console takes (multipart: the playground's uploads), refused before any
    of it is read."""
    headers = dict(scope.get("headers") or [])
    declared = headers.get(b"content-length", b"").decode("latin-1")
    if not (declared.isascii() and declared.isdigit()):
        return False
    multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
    return int(declared) > (MAX_UPLOAD_FORM_BYTES if multipart else MAX_FORM_BYTES)


def console_routes() -> list[BaseRoute]:
    """What the API's application mounts: the console at /console (and /console itself sent to its home)."""
    return [Route("/console", home, methods=["GET"]), Mount("/console", app=ConsoleApp())]
