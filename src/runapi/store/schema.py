"""Tables. Times are epoch seconds (float) so scheduling compares the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# The largest value a BigInteger column holds on every backend (signed 64 bits): the API refuses larger ones.
BIGINT_MAX = 2**63 - 1

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("balance_cents", BigInteger, nullable=False, default=0),
    # LLM usage below a cent, carried to the next request (millionths of a cent) so token billing is exact
    Column("carry_micro_cents", BigInteger, nullable=False, default=0, server_default="0"),
    Column("callback_secret", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
    # a JSON array of hosts / URL prefixes a task's callback_url must match (callbacks/allowlist.py); NULL: any
    Column("callback_url_allowlist", Text),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    # web console sign-in: an argon2 hash (set by `runapi admin set-password`); null: no password sign-in
    Column("password_hash", String(200)),
    # the instance's operator: sees every account in the console's operator view and may add credits
    Column("is_operator", Boolean, nullable=False, default=False, server_default="0"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", String(40), primary_key=True),  # prefix id: member_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("role", String(20), nullable=False),  # admin | member
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),  # prefix id: token_... / mgmt_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("membership_id", String(40), ForeignKey("memberships.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # api | management
    Column("name", String(200)),
    Column("lookup", String(16), nullable=False),  # first characters of the token, indexed for lookup
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the whole token
    Column("masked", String(40), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("credit_limit_cents", BigInteger),
    Column("credit_limit_reset_interval", String(20)),
    Column("allowed_models", JSON),
    # request rate limits (ratelimit/): requests and LLM tokens per minute, requests in flight; NULL: none
    Column("rpm_limit", Integer),
    Column("tpm_limit", Integer),
    Column("max_parallel_requests", Integer),
    # memberships that last set the limits above / disabled the key: a non-admin cannot undo an admin's
    Column("limits_set_by", String(40)),
    Column("disabled_by", String(40)),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("deleted_at", Float),
    Index("ix_api_keys_lookup", "lookup"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40), ForeignKey("api_keys.id")),
    Column("family", String(60), nullable=False),
    Column("action", String(60), nullable=False),
    Column("model", String(100)),
    Column("params", JSON, nullable=False),
    # queued -> running -> completed | failed. Wire status: processing | completed | failed.
    Column("state", String(20), nullable=False),
    Column("result", JSON),
    Column("error", Text),
    Column("price_cents", BigInteger, nullable=False),
    Column("provider", String(60), nullable=False),
    Column("provider_job", JSON),
    Column("stage", String(40)),  # the last progress stage reported while processing (catalog `stages`)
    Column("polls", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),  # consecutive transient errors, reset on progress
    Column("next_run_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("callback_url", Text),
    Column("public_base_url", Text),
    Column("idempotency_key", String(255)),
    # sha256 of the endpoint + validated request: an Idempotency-Key replays only the request it was first used for
    Column("request_hash", String(64)),
    Column("client_request_id", String(512)),  # the client's X-Client-Request-Id, echoed on every answer
    Column("spend_counters", JSON),  # the limit counters its reservation charged (billing/limits.py)
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("completed_at", Float),
    # what its generated files (generated/<id>/...) hold, written when it completes; null on older rows
    Column("output_files", Integer),
    Column("output_bytes", BigInteger),
    # when the retention job deleted its generated files (the status body then hands out no signed links)
    Column("outputs_expired_at", Float),
    Index("ix_tasks_runnable", "state", "next_run_at"),
    Index("ix_tasks_account", "account_id", "created_at"),
    # the retention job: finished tasks whose files are still kept, oldest first; finished tasks by age
    Index("ix_tasks_outputs_due", "outputs_expired_at", "completed_at"),
    Index("ix_tasks_completed", "completed_at"),
    UniqueConstraint("account_id", "idempotency_key", name="uq_tasks_idempotency"),
)

# Append-only. Each task has at most one entry of each kind, so a retry can never charge or refund twice.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40)),
    Column("task_id", String(36)),
    Column("model", String(100)),  # what the spend was for (guardrail model budgets)
    Column("guardrail_id", String(40)),  # the guardrail in force for the request, if any (the key's first)
    Column("member_guardrail_id", String(40)),  # the member's guardrail, when the key's also applied
    Column("kind", String(20), nullable=False),  # credit | reserve | settle | refund
    Column("amount_cents", BigInteger, nullable=False),  # signed: credit/refund > 0, reserve < 0
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_ledger_account_time", "account_id", "created_at"),
    Index("ix_ledger_key_time", "api_key_id", "created_at"),
    Index("ix_ledger_guardrail_time", "guardrail_id", "created_at"),
    Index("ix_ledger_member_guardrail_time", "member_guardrail_id", "created_at"),
    UniqueConstraint("task_id", "kind", name="uq_ledger_task_kind"),
)

# One row per billed request (an LLM call or a task), written in the transaction of the ledger move that makes
# its cost final (billing/usage.py): what it was, who made it, what it used and what it cost.
usage_events = Table(
    "usage_events",
    metadata,
    Column("id", String(40), primary_key=True),  # prefix id: usage_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40)),
    Column("kind", String(10), nullable=False),  # llm | task
    # the ledger's task_id of the request (a task's id, an LLM call's reservation id llm_...). One row each, by
    # construction (only the move that finishes the request writes it); not a unique index, which would cost
    # every LLM settle one more B-tree insert for a guarantee the transaction already gives
    Column("ref", String(40), nullable=False),
    Column("request_id", String(128)),  # LLM: the X-Request-Id of the call
    Column("model", String(100)),
    Column("family", String(60)),  # tasks
    Column("action", String(60)),  # tasks: the action; LLM: chat | embedding
    Column("provider", String(60)),  # the deployment that answered, or "sandbox"
    Column("status", String(20), nullable=False),  # completed | failed
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),  # including reasoning_tokens
    Column("cached_tokens", BigInteger, nullable=False),  # input read from the prompt cache
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("unit", String(60)),  # tasks: what the price counts (its `per` parameter, or "request")
    Column("units", Float),  # tasks: how many of them the price counted
    Column("cost_micro_cents", BigInteger, nullable=False),  # the exact cost, in millionths of a cent
    Column("charged_cents", BigInteger, nullable=False),  # what the balance lost for it (sub-cent rests carried)
    Column("latency_ms", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_usage_account_time", "account_id", "created_at"),
    Index("ix_usage_key_time", "api_key_id", "created_at"),
    Index("ix_usage_account_model_time", "account_id", "model", "created_at"),
    Index("ix_usage_time", "created_at"),  # the retention job deletes the oldest rows
)

# Metered (LLM) reservations not yet settled or refunded. Settling deletes the row, so a request can be
# finished at most once across processes, and the janitor refunds what a crashed process left open.
open_reservations = Table(
    "open_reservations",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40)),
    Column("cents", BigInteger, nullable=False),
    Column("counters", JSON),  # the limit counters the reservation charged (billing/limits.py)
    Column("created_at", Float, nullable=False),
    Index("ix_open_reservations_time", "created_at"),
)

# What each limited scope (a key's limit, a guardrail's budget, a model budget) has spent in one window: the
# limit check and the reservation are one conditional step on this row, under the account's row lock, so
# simultaneous requests cannot all pass a check made before any of them reserved. Derived from the ledger
# when first needed (and whenever the limit's configuration `version` changes), kept in step after that.
spend_counters = Table(
    "spend_counters",
    metadata,
    Column("scope", String(200), primary_key=True),  # e.g. key:<id>:daily, guardrail:<id>:monthly
    Column("window_start", Float, primary_key=True),  # the window's UTC start; 0 for all time
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("version", String(100), nullable=False),
    Column("spent_cents", BigInteger, nullable=False),
)

# Responses API responses kept for previous_response_id and GET/DELETE /v1/responses/{id}: in the database, so
# every API process sees them and restarts keep them; deleted when they expire.
stored_responses = Table(
    "stored_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("response", JSON, nullable=False),
    Column("messages", JSON, nullable=False),  # the conversation up to and including this response's output
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_stored_responses_expiry", "expires_at"),
)

callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),  # X-Callback-Id, the same on every retry
    Column("task_id", String(36), nullable=False),
    # a task's callbacks in order: its progress stages (0, 1, ...), then its final one; sent in this order
    Column("seq", Integer, nullable=False, server_default="0"),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),  # frozen at enqueue: every attempt signs the same bytes
    Column("state", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("ix_callbacks_due", "state", "next_attempt_at"),
    UniqueConstraint("task_id", "seq", name="uq_callbacks_task_seq"),  # each stage is called back once
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), ForeignKey("callback_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Index("ix_callback_attempts_delivery", "delivery_id"),
)

guardrails = Table(
    "guardrails",
    metadata,
    Column("id", String(40), primary_key=True),  # guardrail_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_by", String(40), nullable=False),  # membership id of the creating management key
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),  # casefolded, unique among live guardrails (in code)
    Column("description", Text),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("credit_limit_cents", BigInteger),
    Column("credit_limit_reset_interval", String(20)),
    Column("allowed_models", JSON),
    Column("blocked_models", JSON),
    Column("allowed_providers", JSON),
    Column("blocked_providers", JSON),
    Column("model_budgets", JSON),
    # the same rate limits, for each key the guardrail applies to (the stricter of key and guardrail wins)
    Column("rpm_limit", Integer),
    Column("tpm_limit", Integer),
    Column("max_parallel_requests", Integer),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deleted_at", Float),
    Index("ix_guardrails_account_name", "account_id", "name_key"),
)

guardrail_assignments = Table(
    "guardrail_assignments",
    metadata,
    Column("id", String(40), primary_key=True),  # gassign_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("guardrail_id", String(40), ForeignKey("guardrails.id"), nullable=False),
    Column("api_key_id", String(40), ForeignKey("api_keys.id"), unique=True),
    Column("membership_id", String(40), ForeignKey("memberships.id"), unique=True),
    Column("created_by", String(40), nullable=False),
    Column("created_at", Float, nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),  # file_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40)),
    Column("key", Text),  # storage key; null until a prepared upload is confirmed
    Column("file_name", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("mime_type", String(100)),
    Column("checksum", String(40)),  # prepared uploads: base64 MD5 the PUT must match
    # pending (prepared) | uploading (reserved by a multipart upload) | storing | ready | deleted
    Column("state", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("purpose", String(40)),  # the OpenAI-style purpose given at /v1/files or /v1/uploads (null: user_data)
    Index("ix_files_expiry", "state", "expires_at"),
    Index("ix_files_account", "account_id", "created_at"),  # per-account upload quota and rate
)

# Multipart uploads (POST /v1/uploads): parts arrive one request each and are stored as they come; completing
# assembles them, in the order the client names, into the `files` row the upload reserved when it was created
# (its declared size counted against the account's upload limits from then on).
file_uploads = Table(
    "file_uploads",
    metadata,
    Column("id", String(40), primary_key=True),  # upload_...
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("api_key_id", String(40)),
    Column("file_id", String(40), nullable=False),  # the files row reserved for the result
    Column("filename", String(255), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("mime_type", String(100), nullable=False),  # as declared; the file's type is sniffed at completion
    Column("bytes", BigInteger, nullable=False),  # declared size: the parts may not exceed it, must reach it
    Column("received_bytes", BigInteger, nullable=False),  # sum of the parts reserved so far
    Column("part_count", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # pending | completing | completed | cancelled | expired
    Column("part_ids", JSON),  # the order completed with (a retried complete with the same order answers again)
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_file_uploads_expiry", "status", "expires_at"),
)

file_upload_parts = Table(
    "file_upload_parts",
    metadata,
    Column("id", String(40), primary_key=True),  # part_...
    Column("upload_id", String(40), ForeignKey("file_uploads.id"), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("state", String(20), nullable=False),  # storing | stored
    Column("created_at", Float, nullable=False),
    Index("ix_file_upload_parts_upload", "upload_id"),
)

# Web console sign-ins: only the SHA-256 of the cookie's random token is kept; a row is one signed-in browser,
# deleted at sign-out. Each session acts in one membership (an account the user belongs to).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(40), primary_key=True),  # csess_...
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("membership_id", String(40), ForeignKey("memberships.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_console_sessions_expiry", "expires_at"),
)

# One-time console sign-in links (`runapi admin login-link`): the token's SHA-256, its expiry, when it was used.
console_login_links = Table(
    "console_login_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)

# Tasks their client deleted (DELETE /v1/videos/{id}, OpenAI's video API): the files they made are gone from
# storage; the task row stays (the ledger and the usage log name it), and the OpenAI surface no longer finds it.
task_deletions = Table(
    "task_deletions",
    metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("deleted_at", Float, nullable=False),
)

# `runapi listen` (the platform CLI's local callback listener, runapi-ai/cli@cmd/runapi/listen.go): a session is
# one running listener of an account (only the SHA-256 of its token is kept); while one is live, each task of
# the account that finishes without a callback_url leaves its final callback body here until a listener acks it.
cli_listen_sessions = Table(
    "cli_listen_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Index("ix_cli_listen_sessions_account", "account_id", "last_seen_at"),
)

cli_listen_events = Table(
    "cli_listen_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the listener's cursor (last_id) and ack id
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("task_id", String(36), nullable=False),
    Column("callback_id", String(36), nullable=False),  # its X-Callback-Id
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("acked_at", Float),
    Index("ix_cli_listen_events_account", "account_id", "acked_at", "id"),
    Index("ix_cli_listen_events_task", "task_id"),  # the retention job deletes a task's events with it
)
