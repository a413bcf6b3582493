"""Request rate limits: requests per minute (rpm), LLM tokens per minute (tpm) and requests in flight (parallel),
per API key (its own, or a stricter one from its guardrails) and per account (instance-wide settings).

`policy` decides which limits apply and when a refused client may retry (pure logic); `limiter` keeps the
windows (the `limits` library: in-process, or in Redis shared by every process) and the in-flight slots."""

from .limiter import Admission, RateLimiter
from .policy import RateLimits

__all__ = ["Admission", "RateLimiter", "RateLimits"]
