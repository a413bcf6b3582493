"""Gemini-compatible surface: /v1beta/models, :generateContent, :streamGenerateContent."""

routes: list = []
