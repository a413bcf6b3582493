"""The LLM model catalog (catalog/llm_models.yaml): ids, kinds, token prices and the per-model rules the
surfaces enforce (which reasoning efforts, response formats and embedding sizes a model takes), checked at load."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..yamlload import load_yaml

PATH = Path(__file__).parent.parent / "catalog" / "llm_models.yaml"


@dataclass(frozen=True)
class LlmModel:
    id: str
    owned_by: str
    kind: str  # chat | embedding
    display_name: str  # what model listings show
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
    # the reasoning_effort values Chat Completions accepts for it: None, any (passed on); empty, none at all
    reasoning_efforts: tuple[str, ...] | None = None
    # the response_format types it accepts, and the only function tools allowed alongside one (None: any)
    response_formats: tuple[str, ...] | None = None
    response_format_tools: tuple[str, ...] | None = None
    dimensions_fixed: bool = False  # an embedding model whose vector size cannot be chosen
    thinking: bool = False  # listed as a thinking model (Gemini's model resource)
    # the limits model listings advertise (Gemini's inputTokenLimit / outputTokenLimit)
    input_token_limit: int = 128_000
    output_token_limit: int = 8_192

    def embedding_size(self, raw: Any, param: str) -> int:
        """The vector size a request asks for in `param` (None: the model's own), checked against the model."""
        if raw is None:
            return self.dimensions or 0
        if self.dimensions_fixed:
            raise BadRequest(f"{param} is not supported by {self.id}")
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= (self.dimensions or 0):
            raise BadRequest(f"{param} must be an integer from 1 to {self.dimensions}")
        return raw

    @property
    def write_5m(self) -> int:
        return self.input if self.cache_write_5m is None else self.cache_write_5m

    @property
    def write_1h(self) -> int:
        return self.input if self.cache_write_1h is None else self.cache_write_1h

    def cost_micro_cents(
        self, input_tokens: int, output_tokens: int, cached_tokens: int = 0, written_5m: int = 0, written_1h: int = 0
    ) -> int:
        """Exact cost in millionths of a cent (tokens × cents-per-million); cache reads and writes (part of
        input_tokens) at their own prices."""
        fresh = max(input_tokens - cached_tokens - written_5m - written_1h, 0)
        return (
            fresh * self.input
            + cached_tokens * self.cache_read
            + written_5m * self.write_5m
            + written_1h * self.write_1h
            + output_tokens * self.output
        )

    def cost_cents(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        return math.ceil(self.cost_micro_cents(input_tokens, output_tokens, cached_tokens) / 1_000_000)

    def most_cents(self, input_tokens: int, output_tokens: int, caching: bool) -> int:
        """The most a call can cost: with cache breakpoints, all input may be written at the dearest TTL."""
        price = max(self.input, self.write_5m, self.write_1h) if caching else self.input
        return math.ceil((input_tokens * price + output_tokens * self.output) / 1_000_000)


KINDS = ("chat", "embedding")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
_TUPLES = ("reasoning_efforts", "response_formats", "response_format_tools")


def parse_model(raw: dict[str, Any]) -> LlmModel:
    """One catalog entry, checked: unknown keys, a wrong kind or an unknown rule value fail the load."""
    where = f"llm_models.yaml: model {raw.get('id')!r}"
    known = {f.name for f in fields(LlmModel)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}")
    values = dict(raw)
    for key in _TUPLES:
        if values.get(key) is not None:
            if not isinstance(values[key], list) or not all(isinstance(v, str) for v in values[key]):
                raise ValueError(f"{where}: {key} must be a list of strings")
            values[key] = tuple(values[key])
    m = LlmModel(**values)
    if m.kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if not set(m.reasoning_efforts or ()) <= set(EFFORTS):
        raise ValueError(f"{where}: reasoning_efforts must be among {', '.join(EFFORTS)}")
    if not set(m.response_formats or ()) <= set(RESPONSE_FORMATS):
        raise ValueError(f"{where}: response_formats must be among {', '.join(RESPONSE_FORMATS)}")
    if (m.kind == "embedding") != (m.dimensions is not None):
        raise ValueError(f"{where}: dimensions is required for embedding models, and only for them")
    if m.dimensions_fixed and m.kind != "embedding":
        raise ValueError(f"{where}: dimensions_fixed applies to embedding models only")
    return m


@lru_cache(maxsize=1)
def llm_models() -> dict[str, LlmModel]:
    raw = load_yaml(PATH)
    return {m["id"]: parse_model(m) for m in raw["models"]}
