"""Per-request access to the console's own state (templates, sign-in throttle) and to the services.

The console is mounted inside the API's application (same process, same services): `runtime(request)` is
the API's own accessor. The console's state travels in the ASGI scope, put there by `ConsoleApp`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from ..api.context import runtime
from ..services import Services
from .templating import make_environment
from .throttle import SignInThrottle

if TYPE_CHECKING:
    from jinja2 import Environment

SCOPE_KEY = "runapi.console"


@dataclass
class ConsoleState:
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    _templates: Environment | None = field(default=None, repr=False)

    @property
    def templates(self) -> Environment:
        """Made by the first page: a server nobody opens the console of never imports Jinja2 (~40 ms)."""
        if self._templates is None:
            self._templates = make_environment()
        return self._templates


def state(request: Request) -> ConsoleState:
    found: ConsoleState = request.scope[SCOPE_KEY]
    return found


def services(request: Request) -> Services:
    return runtime(request)
