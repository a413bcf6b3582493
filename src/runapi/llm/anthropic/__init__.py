"""Anthropic Messages: the /v1/messages surface (request parsing, message and stream encoding) and the upstream
adapter for Anthropic deployments."""
