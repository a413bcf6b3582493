"""The LLM gateway: one model catalog, OpenAI / Anthropic / Gemini wire formats, providers, token billing."""
