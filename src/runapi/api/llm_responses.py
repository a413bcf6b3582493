"""OpenAI Responses API surface: /v1/responses (JSON and SSE)."""

routes: list = []
