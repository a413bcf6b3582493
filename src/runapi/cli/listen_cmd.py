"""`runapi listen [URL] [--forward-to URL]`: receive this account's task callbacks and forward them to a local
URL, after the platform CLI (runapi-ai/cli@cmd/runapi/listen.go): fetch the signing secret, open a listen
session, long-poll GET /api/v1/cli/listen_events?last_id=N, and for each event ack it, print its body on
stdout (one line) and POST it to the URL with the headers it came with (X-Callback-Id, X-Callback-Timestamp,
X-Callback-Signature: signed as callbacks are). As the platform's CLI now does, an event is acked before it is
forwarded, so a local receiver's failure is reported on stderr and never replays or blocks later events. An
expired session is replaced (reading again from the start of what is unacked); the session is closed on exit.
Only tasks created without a callback_url are delivered (the server's rule, api/cli_listen.py)."""

from __future__ import annotations

import json
import signal
import time
from types import FrameType
from typing import Any

import click
import httpx

from . import exit_codes
from .client import CliFailure, credentials, global_options, log, usage_failure

POLL_WAIT_SECONDS = 20  # how long the server may hold a poll with nothing to hand out
FORWARD_TIMEOUT_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0


class _Stop(Exception):
    pass


def normalize_forward_url(url: str | None) -> str | None:
    """`localhost:3000/hook` → `http://localhost:3000/hook` (as the platform CLI accepts it); None for none."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise usage_failure(f"invalid forwarding URL {url!r}: expected http(s)://host[:port]/path")
    return url


class Listener:
    def __init__(self, api: httpx.Client, forward_to: str | None, out: Any, forwarder: httpx.Client | None = None):
        self.api = api
        self.forward_to = forward_to
        self.out = out
        self.forwarder = forwarder or httpx.Client(timeout=FORWARD_TIMEOUT_SECONDS)
        self.session: str | None = None

    def _check(self, resp: httpx.Response, what: str) -> None:
        if resp.status_code >= 400:
            try:
                body: Any = resp.json()
            except ValueError:
                body = {"error": resp.text.strip() or f"HTTP {resp.status_code}"}
            code = exit_codes.for_http_status(resp.status_code)
            raise CliFailure(code, f"{what}: HTTP {resp.status_code}", body)

    def secret(self) -> str:
        resp = self.api.get("/api/v1/cli/listen_secret")
        self._check(resp, "GET listen_secret")
        return str(resp.json()["listen_secret"])

    def open(self) -> str:
        resp = self.api.post("/api/v1/cli/listen_sessions", json={})
        self._check(resp, "POST listen_sessions")
        body = resp.json()
        self.session = str(body["session_token"])
        return str(body.get("listen_secret") or "")

    def close(self) -> None:
        if self.session:
            try:
                self.api.delete(f"/api/v1/cli/listen_sessions/{self.session}", timeout=5)
            except httpx.HTTPError:
                pass
            self.session = None
        self.forwarder.close()

    def poll(self, last_id: int) -> list[dict[str, Any]] | None:
        """The next events; None when the session is gone (a new one is needed)."""
        resp = self.api.get(
            "/api/v1/cli/listen_events",
            params={"last_id": last_id, "wait": POLL_WAIT_SECONDS},
            headers={"X-Session-Token": self.session or ""},
            timeout=POLL_WAIT_SECONDS + 15,
        )
        if resp.status_code == 404:
            return None
        self._check(resp, "GET listen_events")
        events = resp.json().get("events")
        return events if isinstance(events, list) else []

    def ack(self, event_id: int) -> bool:
        resp = self.api.post(
            f"/api/v1/cli/listen_events/{event_id}/ack", headers={"X-Session-Token": self.session or ""}
        )
        if resp.status_code == 404:
            return False
        self._check(resp, "POST ack")
        return True

    def deliver(self, event: dict[str, Any]) -> None:
        body = str(event.get("signed_body") or "")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        tag = f"[{event.get('id')}] task={parsed.get('id', '')} status={parsed.get('status', '')}"
        self.out(body)
        if not self.forward_to:
            log(tag)
            return
        headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
        headers.setdefault("Content-Type", "application/json")
        try:
            resp = self.forwarder.post(self.forward_to, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            log(f"{tag} → {self.forward_to} error: {exc}")
            return
        if 200 <= resp.status_code < 300:
            log(f"{tag} → {self.forward_to} {resp.status_code}")
        else:
            log(f"{tag} → {self.forward_to} error: local endpoint returned {resp.status_code}")


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


@click.command("listen")
@click.argument("url", required=False)
@click.option("--forward-to", default=None, help="Local URL to POST callbacks to (or give it as the argument).")
@click.option("--print-secret", is_flag=True, help="Print the signing secret and exit.")
@click.option(
    "--max-events", type=click.IntRange(1, 1_000_000), default=None, help="Exit after this many events (scripts)."
)
@global_options
def listen(url: str | None, forward_to: str | None, print_secret: bool, max_events: int | None) -> None:
    """Receive this account's task callbacks (tasks created without a callback_url) and forward them locally,
    signed as callbacks are (verify them with the printed secret, the account's callback secret)."""
    if url and forward_to:
        raise usage_failure("listen URL and --forward-to are mutually exclusive")
    target = normalize_forward_url(url or forward_to)
    key, base = credentials()
    api = httpx.Client(base_url=base, headers={"X-API-Key": key or "", "User-Agent": "runapi-cli-py"}, timeout=30)
    listener = Listener(api, target, lambda line: click.echo(line))
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if print_secret:
            click.echo(listener.secret())
            return
        secret = listener.open()
        log(f"Ready! Webhook signing secret: {secret}")
        if target:
            log(f"Forwarding to {target}")
        run_loop(listener, max_events)
    except (_Stop, KeyboardInterrupt):
        pass
    except httpx.HTTPError as exc:
        raise CliFailure(exit_codes.ERROR, f"could not reach {base}: {exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
        api.close()


def run_loop(listener: Listener, max_events: int | None) -> None:
    """Poll, ack, print and forward until stopped (or `max_events` were delivered)."""
    last_id, delivered, backoff = 0, 0, 1.0
    while True:
        try:
            events = listener.poll(last_id)
            if events is None:
                log("[session expired] creating new session...")
                listener.open()
                last_id = 0
                continue
        except (httpx.TransportError, CliFailure) as exc:
            if isinstance(exc, CliFailure) and exc.code == exit_codes.AUTH:
                raise  # the key no longer works: stop rather than retry for ever
            log(f"[error] {exc}, retrying in {backoff:g}s...")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            continue
        backoff = 1.0
        for event in events:
            event_id = int(event.get("id") or 0)
            if not listener.ack(event_id):
                break  # the session went away meanwhile: the next poll replaces it
            last_id = event_id
            listener.deliver(event)
            delivered += 1
            if max_events is not None and delivered >= max_events:
                return
