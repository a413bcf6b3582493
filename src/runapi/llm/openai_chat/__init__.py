"""OpenAI Chat Completions: the /v1/chat/completions surface (request parsing, JSON and SSE encoding) and the
upstream adapter for OpenAI-compatible deployments. The canonical request is this protocol's own shape."""
