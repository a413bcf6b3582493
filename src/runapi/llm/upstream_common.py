"""What every upstream adapter shares: the deployment setting, the error the router falls back on, HTTP error
mapping, one JSON POST, one streamed POST (each a client span when tracing is on, carrying the W3C traceparent
to the upstream), SSE parsing and data-URL parsing."""

from __future__ import annotations

import asyncio  # (the background drains of streams ended early: _release_when_read)
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import orjson

from ..observability import tracing
from ..upstream_errors import UpstreamError
from .canonical import ChatRequest, ChatResult, Delta
from .coalesce import ReadBatch, current_batch

if TYPE_CHECKING:  # aiohttp loads with the first deployment's client (new_http_client)
    import aiohttp

PROTOCOLS = ("openai", "anthropic", "gemini")


@dataclass
class LlmDeployment:
    name: str  # what guardrails' allowed_providers / blocked_providers match
    base_url: str
    api_key: str | None = None
    models: list[str] = field(default_factory=lambda: ["*"])
    model_map: dict[str, str] = field(default_factory=dict)
    protocol: str = "openai"  # openai (Chat Completions) | anthropic (Messages) | gemini (generateContent)
    timeout_seconds: float = 120.0

    @classmethod
    def from_setting(cls, raw: dict[str, Any]) -> LlmDeployment:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"llm_upstreams: unknown field(s) {unknown} in deployment {raw.get('name')!r}")
        d = cls(**raw)
        if d.protocol not in PROTOCOLS:
            raise ValueError(
                f"llm_upstreams: deployment {d.name!r} has protocol {d.protocol!r}; use one of {', '.join(PROTOCOLS)}"
            )
        return d

    def serves(self, model: str) -> bool:
        return "*" in self.models or model in self.models

    def upstream_model(self, model: str) -> str:
        return self.model_map.get(model, model)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


class Upstream(Protocol):
    """One deployment's adapter, whatever protocol it speaks."""

    d: LlmDeployment

    async def complete(self, req: ChatRequest) -> ChatResult: ...

    def stream(self, req: ChatRequest) -> AsyncGenerator[Delta, None]: ...


@runtime_checkable
class TokenCounter(Protocol):
    """An adapter whose upstream counts a request's input tokens (Anthropic, Gemini)."""

    async def count_tokens(self, req: ChatRequest) -> int: ...


def new_http_client() -> aiohttp.ClientSession:
    """The pooled client every deployment shares. aiohttp, not httpx: on this path httpx costs about 1 ms of
    CPU per call (its pool scans every connection per request) against aiohttp's 0.07 ms, measured with
    bench/llm_gateway.py's upstream."""
    import aiohttp  # (here, not at start-up: a server with no deployment never loads it, ~7 MB and ~0.07 s)

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=500, ttl_dns_cache=300), auto_decompress=True, raise_for_status=False
    )


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_message(body: str, status: int) -> str:
    """OpenAI, Anthropic and Google all put the text in error.message; anything else is shown as sent."""
    try:
        error = json.loads(body)["error"]
        return str(error["message"] if isinstance(error, dict) else error)
    except Exception:  # noqa: BLE001 - any non-JSON or differently shaped body
        return body or f"HTTP {status}"


def retryable_status(status: int) -> bool:
    # 408 timeout, 409 conflict/lock, 429 rate limit, 5xx (Anthropic's 529 "overloaded" included)
    return status in (408, 409, 429) or status >= 500


async def raise_for_status(resp: aiohttp.ClientResponse) -> None:
    if resp.status < 400:
        return
    body = (await resp.content.read(8192)).decode("utf-8", "replace")[:2000]
    raise UpstreamError(
        _error_message(body, resp.status)[:500], resp.status, retryable_status(resp.status), _retry_after(resp)
    )


_JSON = {"content-type": "application/json"}


def _span(d: LlmDeployment, url: str, model: str | None, stream: bool) -> tracing.SpanHandle:
    """The client span of one call to an LLM deployment: named by its protocol, never by the URL (Gemini's
    holds the model); not made the current span, since a stream's is held across the caller's yields."""
    if not tracing.enabled():
        return tracing.OFF
    return tracing.span(
        f"{d.protocol} POST",
        "client",
        current=False,
        attributes={"http.request.method": "POST", "server.address": urlsplit(url).hostname or ""},
        provider=d.name,
        provider_kind=d.protocol,
        model=model,
        stream=stream,
    )


async def post_json(
    http: aiohttp.ClientSession,
    d: LlmDeployment,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    model: str | None = None,
) -> dict[str, Any]:
    import aiohttp  # (loaded already: `http` is one of its sessions)

    with _span(d, url, model, False) as span:
        try:
            async with http.post(
                url,
                data=orjson.dumps(body),
                headers=span.headers({**_JSON, **headers}),
                timeout=aiohttp.ClientTimeout(total=d.timeout_seconds),
            ) as resp:
                span.set_attributes({"http.response.status_code": resp.status})
                await raise_for_status(resp)
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"{d.name}: {type(exc).__name__}") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"{d.name}: the answer is not JSON", status) from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"{d.name}: the answer is not a JSON object", status)
    return data


@asynccontextmanager
async def open_stream(
    http: aiohttp.ClientSession,
    d: LlmDeployment,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    model: str | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """A streamed POST whose connection and HTTP errors are UpstreamError (so the router can fall back). The
    timeout bounds the wait for each chunk, not the whole stream (answers may stream for minutes)."""
    import aiohttp  # (loaded already: `http` is one of its sessions)

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=d.timeout_seconds)
    with _span(d, url, model, True) as span:
        try:
            ctx = http.post(url, data=orjson.dumps(body), headers=span.headers({**_JSON, **headers}), timeout=timeout)
            resp = await ctx.__aenter__()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"{d.name}: {type(exc).__name__}") from exc
        span.set_attributes({"http.response.status_code": resp.status})
        ended = False
        try:
            await raise_for_status(resp)
            yield resp
            ended = True
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:  # the connection broke mid-stream
            raise UpstreamError(f"{d.name}: {type(exc).__name__}") from exc
        finally:
            if ended and not resp.content.is_eof():
                _release_when_read(ctx, resp)
            else:
                await ctx.__aexit__(None, None, None)


# A stream the protocol ended by itself (OpenAI's `data: [DONE]`) before its body did leaves the connection
# with the body's last bytes (the chunked terminator) still to come: released at once, the connection is
# closed and the next call opens a new one. Read in the background instead, so it goes back to the pool;
# more left than this, or not there within this time, and it is closed as before. Only after an end the
# protocol recognised: a caller that stops early (a client gone) closes the connection, so the upstream
# stops generating.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 5.0
_draining: set[asyncio.Task[None]] = set()


def _release_when_read(ctx: Any, resp: aiohttp.ClientResponse) -> None:
    task = asyncio.get_running_loop().create_task(_drain(ctx, resp))
    _draining.add(task)
    task.add_done_callback(_draining.discard)


async def _drain(ctx: Any, resp: aiohttp.ClientResponse) -> None:
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            left = DRAIN_BYTES
            while left > 0 and not resp.content.is_eof():
                chunk = await resp.content.readany()
                if not chunk:
                    break
                left -= len(chunk)
    except (Exception, asyncio.CancelledError):  # noqa: BLE001 - whatever broke the read: the connection is closed below
        pass
    finally:
        if not resp.content.is_eof():
            resp.close()
        await ctx.__aexit__(None, None, None)


async def sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[str | None, str]]:
    """(event name, data) per server-sent event; multi-line data joined with newlines, comments skipped.

    Lines may be of any length (aiohttp's own readline refuses lines over 128 KiB, and a base64 image in one
    SSE data line is longer). Marks the response's ReadBatch (llm/coalesce) while it hands out the events of
    one read, so what they become reaches the client in one write. One generator, reads to events: a
    generator of lines under this one cost an extra hop per line, on every token of every stream."""
    name: str | None = None
    data: list[str] = []
    buffer = b""
    batch: ReadBatch | None = None
    try:
        async for chunk in resp.content.iter_any():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                if batch is None:  # the first read comes before the response (and its batch) exists
                    batch = current_batch.get()
                if batch is not None:
                    batch.holding = True  # what these events become is written once, below
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if not line:
                    if data:
                        yield name, "\n".join(data)
                    name, data = None, []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
            if batch is not None and batch.holding:
                batch.holding = False
                await batch.flush()  # before waiting for the next read
        if buffer:
            line = buffer.decode("utf-8", "replace").rstrip("\r")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            yield name, "\n".join(data)
    finally:
        if batch is not None:
            batch.holding = False


def parse_json(data: str, who: str) -> dict[str, Any]:
    """One stream event's JSON object. orjson (about 4x the stdlib's speed, and this runs per token); the
    stdlib for what orjson refuses but the stdlib reads (NaN, Infinity, lone surrogates). One difference:
    orjson reads integers over 64 bits as floats; no field taken from an event is that large."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise UpstreamError(f"{who}: malformed stream event") from exc
    if not isinstance(value, dict):
        raise UpstreamError(f"{who}: malformed stream event")
    return value


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL; None for any other URL."""
    if not url.startswith("data:") or "," not in url:
        return None
    head, payload = url[5:].split(",", 1)
    params = head.split(";")
    if "base64" not in params[1:]:
        return None
    return params[0] or "application/octet-stream", payload


def text_of(content: Any) -> str:
    """The text of a canonical message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def call_arguments(call: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, arguments as an object) of a canonical tool call, for protocols that want the arguments parsed:
    unparseable arguments become {}, a non-object value is wrapped as {"value": ...}."""
    fn = call.get("function") or {}
    try:
        args = json.loads(fn.get("arguments") or "{}")
    except ValueError:
        args = {}
    return fn.get("name", ""), args if isinstance(args, dict) else {"value": args}


def append_turn(turns: list[dict[str, Any]], role: str, items: list[dict[str, Any]], key: str) -> None:
    """Add one message's blocks/parts to a provider's turn list, merged into the previous turn when it has the
    same role (Anthropic and Gemini both want roles to alternate)."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})
