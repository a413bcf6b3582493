"""`base_url` (api/context.py) is worked out once per client address and Host header and then remembered:
the remembered answer is the one working it out gives, per settings object, and the memo stays bounded
whatever Host headers clients send."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from starlette.requests import Request

from runapi.api import context
from runapi.settings import Settings


def request(settings: Settings, host: str | None, server: Any = ("10.0.0.5", 8000), root: str = "") -> Request:
    headers = [(b"host", host.encode())] if host is not None else []
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(settings=settings)))
    scope = {
        "type": "http",
        "scheme": "http",
        "method": "GET",
        "path": "/x",
        "root_path": root,
        "query_string": b"",
        "headers": headers,
        "server": server,
        "app": app,
    }
    return Request(scope)


def test_remembered_answers_are_the_worked_out_ones(monkeypatch, tmp_path):
    open_ = Settings(data_dir=tmp_path, host="0.0.0.0", allowed_hosts=["api.example", ".corp.example"])
    loopback = Settings(data_dir=tmp_path, host="127.0.0.1")
    calls: list[str] = []
    real = context._base_url

    def counting(req: Request, settings: Settings) -> str:
        calls.append(req.headers.get("host", ""))
        return real(req, settings)

    monkeypatch.setattr(context, "_base_url", counting)
    context._BASE_URLS.clear()
    cases = [
        (open_, "api.example", ("10.0.0.5", 8000), "", "http://api.example"),
        (open_, "x.corp.example:8443", ("10.0.0.5", 8000), "/p", "http://x.corp.example:8443/p"),
        (open_, "evil.example", ("10.0.0.5", 8000), "", "http://10.0.0.5:8000"),
        (open_, "evil.example", ["::1", 9000], "", "http://[::1]:9000"),  # a list (some ASGI servers)
        (loopback, "api.example", ("127.0.0.1", 8000), "", "http://127.0.0.1:8000"),  # other settings
        (loopback, "localhost:8000", ("127.0.0.1", 8000), "", "http://localhost:8000"),
    ]
    for _ in range(2):
        for settings, host, server, root, want in cases:
            assert context.base_url(request(settings, host, server, root)) == want
    assert len(calls) == len(cases)  # the second round was remembered


def test_the_memo_stays_bounded(tmp_path):
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", allowed_hosts=["*"])
    context._BASE_URLS.clear()
    for i in range(1000):
        assert context.base_url(request(settings, f"h{i}.example")) == f"http://h{i}.example"
        assert len(context._BASE_URLS) <= 256
