"""Token counts without a tokenizer download: UTF-8 bytes / 4 (the usual rule of thumb for BPE vocabularies),
images at a fixed cost. Used to estimate reservations and by the sandbox; upstream usage replaces it."""

from __future__ import annotations

import math
from typing import Any

IMAGE_TOKENS = 85
PER_MESSAGE = 4


def text_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4) if text else 0


def content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return text_tokens(content)
    total = 0
    for part in content if isinstance(content, list) else [content]:
        if not isinstance(part, dict):
            total += text_tokens(str(part))
        elif part.get("type") in ("text", "input_text", "output_text"):
            total += text_tokens(str(part.get("text", "")))
        elif part.get("type") in ("image_url", "input_image", "image", "file", "input_file"):
            total += IMAGE_TOKENS
        else:
            total += text_tokens(str(part))
    return total


def messages_tokens(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> int:
    total = 0
    for m in messages:
        total += PER_MESSAGE + content_tokens(m.get("content"))
        for call in m.get("tool_calls") or []:
            fn = call.get("function") or {}
            total += text_tokens(str(fn.get("name", ""))) + text_tokens(str(fn.get("arguments", "")))
    if tools:
        import json
        total += text_tokens(json.dumps(tools))
    return total
