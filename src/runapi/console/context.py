"""Per-request access to the console's own state (templates, sign-in throttle) and to the services.

The console is mounted inside the API's application (same process, same services): `runtime(request)` is
the API's own accessor. The console's state travels in the ASGI scope, put there by `ConsoleApp`."""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Environment
from starlette.requests import Request

from ..api.context import runtime
from ..services import Services
from .templating import make_environment
from .throttle import SignInThrottle

SCOPE_KEY = "runapi.console"


@dataclass
class ConsoleState:
    templates: Environment = field(default_factory=make_environment)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)


def state(request: Request) -> ConsoleState:
    found: ConsoleState = request.scope[SCOPE_KEY]
    return found


def services(request: Request) -> Services:
    return runtime(request)
