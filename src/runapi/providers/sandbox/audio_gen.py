"""Audio generators (speech, dialogue, sound effects, transcription, isolation)."""
