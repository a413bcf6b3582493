"""One typed settings object, read from RUNAPI_* environment variables (and an optional .env file), and from
the TOML file RUNAPI_CONFIG names: its keys are the settings' names without the prefix (`data_dir = "…"`,
`[[media_upstreams]]` tables); environment variables and .env win over it."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Documented retry policy: up to 10 retries "with growing delays" (seconds after each failed attempt).
DEFAULT_CALLBACK_DELAYS = (5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600)


def is_loopback(host: str) -> bool:
    """Is this bind address (or host name) reachable from this machine only?"""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


CONFIG_ENV = "RUNAPI_CONFIG"  # the TOML settings file (optional)


class ConfigFileError(ValueError):
    """RUNAPI_CONFIG names a file that cannot be used (its message names the file and what is wrong)."""


class ConfigFile(TomlConfigSettingsSource):
    """RUNAPI_CONFIG's TOML file as a settings source. Keys are the settings' names, in any case, with or
    without the RUNAPI_ prefix; an unknown key, a missing file or invalid TOML is refused naming the file
    (a typo in a config file must not be silently ignored). pydantic-settings' TOML source
    (https://docs.pydantic.dev/latest/concepts/pydantic_settings/#other-settings-source); its per-file reader
    `_read_file` (present since the source was added) is where the keys are normalised."""

    def __init__(self, settings_cls: type[BaseSettings], path: str):
        if not Path(path).is_file():
            raise ConfigFileError(f"{CONFIG_ENV}: {path} is not a readable file")
        try:
            super().__init__(settings_cls, toml_file=Path(path))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigFileError(f"{CONFIG_ENV}: {path}: {exc}") from exc
        unknown = sorted(set(self.toml_data) - set(settings_cls.model_fields))
        if unknown:
            raise ConfigFileError(f"{CONFIG_ENV}: {path}: unknown settings {', '.join(unknown)}")

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        return {_setting_name(key): value for key, value in super()._read_file(file_path).items()}


def _setting_name(key: str) -> str:
    key = key.lower()
    return key.removeprefix("runapi_")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNAPI_", env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then .env, then RUNAPI_CONFIG's file: earlier ones win."""
        path = os.environ.get(CONFIG_ENV)
        if not path:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        return init_settings, env_settings, dotenv_settings, ConfigFile(settings_cls, path), file_secret_settings

    data_dir: Path = Path("runapi-data")
    database_url: str | None = Field(default=None, description="SQLAlchemy async URL; default SQLite file in data_dir")
    storage_dir: Path | None = None
    storage_backend: str = Field(default="local", description="local | s3")
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # With the s3 backend, a valid signed /files/ link answers 307 to a pre-signed GetObject URL for the same
    # object (the bucket then serves the bytes, with our Content-Type and Content-Disposition but without our
    # nosniff and CSP headers, which S3 cannot set). That URL lives s3_presign_seconds, never past our link.
    s3_presigned_redirect: bool = False
    s3_presign_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)  # SigV4 allows at most 7 days
    public_url: str | None = Field(
        default=None, description="Base URL clients reach the server at; default: from the request"
    )
    # Without public_url, links take the request's Host only when it is one of these names (port ignored;
    # ".example.com" also matches subdomains, "*" any host). Empty: the bind host, plus localhost, 127.0.0.1
    # and ::1 when bound to loopback. Any other Host gets links to the address the connection arrived at.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "a.com,b.com" or JSON
    # Signed file links (uploads, generated media) point here when set, e.g. https://files.example.com: a
    # separate origin, so even a hostile file never runs with the API origin's privileges.
    files_url: str | None = None
    secret_key: str | None = Field(default=None, description="Signs file URLs; default: generated once into data_dir")

    host: str = "127.0.0.1"
    port: int = 8000
    # Slow clients: a connection must send a request's complete headers within the header timeout of opening
    # (or of a later request's first byte); a request body may pause at most the idle timeout and must be in
    # within the body timeout; an idle kept-alive connection is closed after keep-alive seconds. Past
    # max_connections open in one process, a new connection is answered 503 and closed.
    http_header_timeout_seconds: float = 10.0
    http_body_idle_timeout_seconds: float = 30.0
    http_body_timeout_seconds: float = 600.0
    http_keep_alive_seconds: float = 5.0
    http_max_connections: int = 1000

    # SQLite durability: FULL fsyncs every commit (survives power loss); NORMAL survives process crashes.
    sqlite_synchronous: str = "FULL"

    run_workers: bool = True
    worker_concurrency: int = 8
    worker_idle_poll_seconds: float = 0.5
    # A task's lease; its worker renews it every third of this while stepping, so a crashed worker's tasks are
    # picked up by another within this time.
    lease_seconds: float = 30.0
    max_task_attempts: int = 5
    # A task still unfinished this long after creation fails ("Task timed out", refunded), cut mid-step too.
    task_timeout_seconds: float = 3600.0
    # One step (submit, poll, input fetches, result copies) is cut after this, so a worker slot is never held
    # for ever; the step is then retried with backoff like any failed step.
    task_step_timeout_seconds: float = 600.0
    # Worker slots one account may hold while other accounts' tasks are due (default: half the slots, at
    # least 1). With nobody else waiting an account may use more, but never the last free slot.
    worker_account_share: int | None = None

    sandbox_delay_seconds: float = 0.0
    # Threads that decode and encode sandbox media (0: one per core); more tasks wait their turn, so this
    # bounds the CPU and memory media work takes (each task's inputs and outputs are budgeted too).
    media_workers: int = Field(default=0, ge=0)

    callback_retry_delays: tuple[float, ...] = DEFAULT_CALLBACK_DELAYS
    # Each retry delay is spread uniformly by ± this fraction of it (0.2: 60 s becomes 48–72 s), so the
    # callbacks a receiver's outage piled up do not all come back at the same instant.
    callback_retry_jitter: float = Field(default=0.2, ge=0.0, le=1.0)
    # A receiver's Retry-After (on 429/503) postpones the next attempt beyond the schedule by at most this much.
    callback_retry_after_max_seconds: float = Field(default=3600.0, ge=0.0, le=86400.0)
    # The whole of one delivery attempt (connect, send, status and answer body); the attempt then counts as
    # a timeout and is retried.
    callback_timeout_seconds: float = 10.0
    callback_concurrency: int = 16
    # At most this many of one account's callbacks in flight at once per process (of callback_concurrency),
    # so one account's slow or hanging receivers cannot hold every delivery slot.
    callback_account_concurrency: int = 4

    generated_url_ttl_seconds: int = 7 * 24 * 3600
    # Retention (README "Retention"): what the expiry job deletes, in days after a task finished (media, task
    # rows with their callbacks) or a usage row was written. 0 keeps it for ever. Each run deletes at most
    # retention_batch of each kind and runs again retention_interval_seconds later (uploads: their hour).
    generated_media_retention_days: int = Field(default=7, ge=0, le=36_500)  # the docs: links valid 7 days
    task_retention_days: int = Field(default=30, ge=0, le=36_500)
    usage_retention_days: int = Field(default=90, ge=0, le=36_500)
    retention_batch: int = Field(default=500, ge=1, le=10_000)
    retention_interval_seconds: int = Field(default=30, ge=1, le=86_400)
    # Uploads per account (POST /api/v1/files, prepared uploads): bytes held in unexpired files, and how many
    # uploads / bytes may start in any 60 s. 0 turns a limit off.
    upload_quota_bytes: int = 1024 * 1024 * 1024
    uploads_per_minute: int = 30
    upload_bytes_per_minute: int = 250 * 1024 * 1024
    # Local storage keeps this much disk free (the database may share the disk): writes that would go below
    # it answer 507, and /health/ready reports the storage as not ready.
    storage_min_free_bytes: int = 512 * 1024 * 1024
    fetch_max_bytes: int = 50 * 1024 * 1024
    fetch_timeout_seconds: float = 30.0
    # Total time for one outbound fetch (input URL, URL upload, result copy), however slowly bytes arrive;
    # default: fetch_timeout_seconds (which alone bounds each connect/read).
    fetch_deadline_seconds: float | None = None
    # Concurrent outbound fetches per account through each shared pool (100 connections); 0: no cap.
    fetch_account_concurrency: int = 8
    # Outbound fetches (input URLs, callbacks) refuse loopback/private targets unless this is set (local dev, tests).
    allow_private_network: bool = False

    # Several processes/nodes: Redis carries cache invalidations, task wake-ups and finish notifications
    # between them (default: in-process only). The prefix names the pub/sub channels.
    redis_url: str | None = None
    redis_channel_prefix: str = "runapi"
    # Connections per process (PostgreSQL); each process also keeps up to db_max_overflow more under load.
    db_pool_size: int = 10
    db_max_overflow: int = 20

    # Rate limits per account, over all its API keys (429 with Retry-After past them); None: no limit. Each key
    # (and guardrail) may set its own rpm_limit / tpm_limit / max_parallel_requests too (README "Rate limits").
    account_rpm_limit: int | None = Field(default=None, ge=1, le=2**31 - 1)  # requests per minute
    account_tpm_limit: int | None = Field(default=None, ge=1, le=2**31 - 1)  # LLM tokens (input + output) per minute
    account_max_parallel_requests: int | None = Field(default=None, ge=1, le=2**31 - 1)  # requests in flight
    # With Redis, an in-flight slot is a lease this long, renewed every third of it while the request runs: a
    # crashed process's slots free within it.
    rate_limit_lease_seconds: float = Field(default=600.0, gt=0)

    # Resolved API keys are cached this long per process; changes via this process apply at once.
    auth_cache_seconds: float = 5.0

    # LLM upstreams, tried in order for the models they serve: [{"name": "openai", "base_url": ".../v1",
    # "api_key": "...", "models": ["gpt-5.2"] or ["*"], "model_map": {"gpt-5.2": "gpt-5.2-2026-01-01"}}]
    # "protocol": "openai" (Chat Completions, default) | "anthropic" (base_url without /v1) | "gemini" (likewise)
    llm_upstreams: list[dict[str, Any]] = Field(default_factory=list)
    # With llm_upstreams configured, a model none of them serves answers 503; true: the sandbox LLM answers it
    # (marked `X-RunAPI-Provider: sandbox`, and billed). Without any llm_upstreams the sandbox always answers.
    sandbox_fallback: bool = False

    # Media upstreams, tried in order for the models they serve (README "Real media providers"):
    # [{"name": "fal", "kind": "fal" | "openai_images" | "elevenlabs" | "gemini", "base_url": "...", "api_key": "...",
    #   "models": ["veo-3.1"] or ["*"], "model_map": {...}, "max_concurrency": 4}]. Empty: the sandbox.
    media_upstreams: list[dict[str, Any]] = Field(default_factory=list)

    # OpenAI's synchronous media endpoints (/v1/images/*, /v1/audio/*) wait this long for their task; past
    # it they answer 504 and the task runs on (billed when it completes, readable at /api/v1/...).
    openai_media_wait_seconds: float = Field(default=300.0, gt=0)

    # An LLM reservation still open this long was left by a process that died mid-call: refunded in full.
    llm_abandoned_after_seconds: float = 3600.0
    # Responses API responses stored for previous_response_id / GET are kept this long (OpenAI: 30 days).
    responses_retention_days: float = 30.0

    # Observability: log lines as text or JSON objects (one per line); one access line per request;
    # when metrics_token is set, GET /metrics needs `Authorization: Bearer <token>`; without it /metrics is
    # served only when the server is bound to loopback (it shows per-model usage).
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True
    metrics_token: str | None = None
    # OpenTelemetry traces (needs the `otel` extra): spans for requests, task steps, upstream calls and callback
    # deliveries, exported over OTLP/HTTP as the standard OTEL_* variables say (OTEL_EXPORTER_OTLP_ENDPOINT,
    # OTEL_SERVICE_NAME, ...). Calls to LLM and media upstreams carry a W3C traceparent unless propagation is
    # off; callbacks never do.
    otel_enabled: bool = False
    otel_propagate_upstream: bool = True

    bootstrap_api_key: str | None = None
    bootstrap_credits_cents: int = 10_000
    bootstrap_email: str = "admin@localhost"

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @property
    def resolved_fetch_deadline(self) -> float:
        return self.fetch_deadline_seconds if self.fetch_deadline_seconds is not None else self.fetch_timeout_seconds

    @property
    def resolved_worker_account_share(self) -> int:
        if self.worker_account_share is not None:
            return max(1, self.worker_account_share)
        return max(1, self.worker_concurrency // 2)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'runapi.db').resolve()}"

    @cached_property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").resolve()

    @cached_property
    def resolved_secret_key(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        # Persist a generated key so signed URLs stay valid across restarts of a single-node install.
        path = self.data_dir / "secret.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()
