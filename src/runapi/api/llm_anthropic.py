"""Anthropic-compatible surface: /v1/messages (JSON and SSE)."""

routes: list = []
