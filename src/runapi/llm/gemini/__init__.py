"""Gemini API: the /v1beta surface (generateContent and its stream, models, embeddings) and the upstream adapter
for Gemini deployments."""
