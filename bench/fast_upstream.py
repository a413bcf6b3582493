"""A minimal OpenAI-compatible upstream (raw ASGI, fixed answer) for gateway benchmarks: as fast as uvicorn
allows, so the figures measure the gateway, not the upstream.  python bench/fast_upstream.py PORT [GAP_MS]

A request whose body asks for `"stream":true` gets a Chat Completions SSE stream instead: TOKENS content
chunks, then a finish chunk with usage, then [DONE]. GAP_MS (default 2) spaces the chunks like a model
producing tokens, one network write each; GAP_MS 0 sends the whole stream in one burst (one write)."""

import asyncio
import sys

import uvicorn

BODY = (
    b'{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"Hello from the fast upstream."},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}'
)
TOKENS = 20
_CHUNK = b'data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
EVENTS = [
    _CHUNK + b'"delta":{"role":"assistant","content":"tok%d "},"finish_reason":null}]}\n\n' % i for i in range(TOKENS)
] + [
    _CHUNK + b'"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}\n\n' % (TOKENS, TOKENS + 12),
    b"data: [DONE]\n\n",
]
GAP = 0.002


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more, body = True, b""
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if b'"stream":true' not in body.replace(b" ", b""):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": BODY})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    if GAP <= 0:
        await send({"type": "http.response.body", "body": b"".join(EVENTS)})
        return
    for event in EVENTS:
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await asyncio.sleep(GAP)
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    if len(sys.argv) > 2:
        GAP = float(sys.argv[2]) / 1000
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
