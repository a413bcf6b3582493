"""OpenAI's media endpoints (images, speech, transcriptions, videos) over the catalog: which action serves a
model and how OpenAI's fields map onto its parameters are the catalog's `openai:` blocks; this package parses
the requests (fields.py), maps them (mapping.py), runs them as ordinary tasks (service.py) and shapes OpenAI's
answers (answers.py, videos.py). The HTTP routes are api/openai_media.py."""
