"""The LLM model catalog (catalog/llm_models.yaml): ids, kinds and token prices."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..yamlload import load_yaml

PATH = Path(__file__).parent.parent / "catalog" / "llm_models.yaml"


@dataclass(frozen=True)
class LlmModel:
    id: str
    owned_by: str
    kind: str  # chat | embedding
    input: int  # cents per 1M input tokens
    output: int  # cents per 1M output tokens
    cache_read: int = 0  # cents per 1M cached input tokens
    dimensions: int | None = None
    max_output: int = 0  # most output tokens one call can produce: what a call without max_tokens reserves for
    created: int = 1767225600  # 2026-01-01, for list formats that need a timestamp

    def cost_micro_cents(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        """Exact cost in millionths of a cent (tokens × cents-per-million), cached input at its own price."""
        fresh = max(input_tokens - cached_tokens, 0)
        return fresh * self.input + cached_tokens * self.cache_read + output_tokens * self.output

    def cost_cents(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        return math.ceil(self.cost_micro_cents(input_tokens, output_tokens, cached_tokens) / 1_000_000)


@lru_cache(maxsize=1)
def llm_models() -> dict[str, LlmModel]:
    raw = load_yaml(PATH)
    return {m["id"]: LlmModel(**m) for m in raw["models"]}
