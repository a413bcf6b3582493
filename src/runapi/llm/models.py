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
    # cents per 1M input tokens written to the prompt cache with a 5-minute / 1-hour TTL (Anthropic: 1.25x and
    # 2x input); unset: writes cost plain input (vendors that do not charge for them)
    cache_write_5m: int | None = None
    cache_write_1h: int | None = None
    dimensions: int | None = None
    max_output: int = 0  # most output tokens one call can produce: what a call without max_tokens reserves for
    created: int = 1767225600  # 2026-01-01, for list formats that need a timestamp

    @property
    def write_5m(self) -> int:
        return self.input if self.cache_write_5m is None else self.cache_write_5m

    @property
    def write_1h(self) -> int:
        return self.input if self.cache_write_1h is None else self.cache_write_1h

    def cost_micro_cents(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0,
                         written_5m: int = 0, written_1h: int = 0) -> int:
        """Exact cost in millionths of a cent (tokens × cents-per-million); cache reads and writes (part of
        input_tokens) at their own prices."""
        fresh = max(input_tokens - cached_tokens - written_5m - written_1h, 0)
        return (fresh * self.input + cached_tokens * self.cache_read + written_5m * self.write_5m
                + written_1h * self.write_1h + output_tokens * self.output)

    def cost_cents(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        return math.ceil(self.cost_micro_cents(input_tokens, output_tokens, cached_tokens) / 1_000_000)

    def most_cents(self, input_tokens: int, output_tokens: int, caching: bool) -> int:
        """The most a call can cost: with cache breakpoints, all input may be written at the dearest TTL."""
        price = max(self.input, self.write_5m, self.write_1h) if caching else self.input
        return math.ceil((input_tokens * price + output_tokens * self.output) / 1_000_000)


@lru_cache(maxsize=1)
def llm_models() -> dict[str, LlmModel]:
    raw = load_yaml(PATH)
    return {m["id"]: LlmModel(**m) for m in raw["models"]}
