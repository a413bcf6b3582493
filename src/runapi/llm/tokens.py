"""Token counts without a tokenizer download: UTF-8 bytes / 4 (the usual rule of thumb for BPE vocabularies),
images at a fixed cost. Used by the sandbox and as the estimate when a stream ends without usage; upstream
usage replaces it. Reservations count images and documents at what they can cost at most (`reserve_tokens`)."""

from __future__ import annotations

import math
from typing import Any

IMAGE_TOKENS = 85
PER_MESSAGE = 4
# What one image or document can cost upstream, for reservations: a high-detail image is up to ~1,450 tokens
# at OpenAI, ~1,600 at Anthropic (1.15 megapixels / 750), 1,120 at Gemini's high media resolution; a document
# is counted as ~10 pages at Anthropic's ~1,500 tokens a page (text plus the page image).
IMAGE_TOKENS_MAX = 1600
DOCUMENT_TOKENS_MAX = 16_000
IMAGE_PARTS = ("image_url", "input_image", "image")
DOCUMENT_PARTS = ("file", "input_file", "document")


def text_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4) if text else 0


def content_tokens(content: Any, upper_bound: bool = False) -> int:
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
        elif part.get("type") in IMAGE_PARTS:
            total += IMAGE_TOKENS_MAX if upper_bound else IMAGE_TOKENS
        elif part.get("type") in DOCUMENT_PARTS:
            total += DOCUMENT_TOKENS_MAX if upper_bound else IMAGE_TOKENS
        else:
            total += text_tokens(str(part))
    return total


def reserve_tokens(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> int:
    """The input tokens to reserve for: images and documents at their most (`messages_tokens` otherwise)."""
    return messages_tokens(messages, tools, upper_bound=True)


def messages_tokens(messages: list[dict[str, Any]], tools: list[Any] | None = None, upper_bound: bool = False) -> int:
    total = 0
    for m in messages:
        total += PER_MESSAGE + content_tokens(m.get("content"), upper_bound)
        for call in m.get("tool_calls") or []:
            fn = call.get("function") or {}
            total += text_tokens(str(fn.get("name", ""))) + text_tokens(str(fn.get("arguments", "")))
    if tools:
        import json

        total += text_tokens(json.dumps(tools))
    return total
