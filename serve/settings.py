"""Service settings, read from the environment (prefix MODERATION_) or given by the command line."""

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.policy import DEFAULT_POLICY_FILE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODERATION_", extra="ignore", protected_namespaces=())

    model_dir: Path = Field(Path("models/current"), description="model directory, or models/ to use its `current`")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # 2 MiB: room for 256 comments of a few KB each, and for a single over-long text to get a 422 naming it.
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    # A site may lower the request limits below the API's ceilings (serve/schemas.py); POST /v1/predict then
    # refuses what exceeds them with a 422 naming the field. Coral's comments are cut to max_text_chars instead.
    max_comments: int = Field(256, ge=1, le=256)
    max_text_chars: int = Field(10_000, ge=1, le=10_000)
    log_level: str = "info"
    # "json": one JSON object per line (time, level, logger, message, request_id) for a log pipeline, uvicorn's
    # own lines included; "text" is for reading in a terminal (serve/logs.py).
    log_format: Literal["text", "json"] = "text"

    # -- storage (the storage package) ------------------------------------------------------------------------
    # SQLite file (created with its directory, WAL mode) or postgresql://user:pass@host/db. repr=False: a
    # PostgreSQL URL can carry a password.
    database_url: str = Field("sqlite:///var/moderation.sqlite3", repr=False)
    # Keep each comment's text in the audit log. Off by default: the log then holds scores, not people's words.
    store_text: bool = False

    # -- decisions (policy, copy-paste, access, Coral) --------------------------------------------------
    policy_file: Path = Field(
        DEFAULT_POLICY_FILE, description="TOML policy: thresholds, shadow mode, per-site overrides"
    )
    # {"<key>": {"scopes": ["predict"], "name": "site-backend"}}, or the older {"<key>": ["predict"]} (serve/auth.py
    # checks each entry). Empty (and no keys file): no auth, loopback only. Any value type here, so that a bad
    # entry is reported by auth.py by its number: pydantic's own error would print the key.
    # repr=False: keys must never reach a log line or a traceback.
    api_keys: dict[str, Any] = Field(default_factory=dict, repr=False)
    api_keys_file: Path | None = Field(None, description="JSON file of the same shape as api_keys, merged into it")
    # Coral's signing secrets; several during a rotation. Empty: the Coral endpoint answers 404.
    coral_signing_secrets: list[str] = Field(default_factory=list, repr=False)
    # 50,000 fingerprints per site is ~1 MB of numpy and a sub-millisecond scan per comment.
    copypaste_index_size: int = Field(50_000, ge=100)
    # SimHash bits that may differ for two texts to count as the same paste (of 64); 3 tolerates small edits.
    copypaste_max_distance: int = Field(3, ge=0, le=16)
    # Cosine similarity to the article under which the `low_relevance` signal fires (models with "relevance").
    low_relevance_below: float = Field(0.15, ge=-1.0, le=1.0)

    # -- the moderator's console (/console, serve/console/) ---------------------------------------------
    # Days a held comment's text waits in the queue for a moderator; then it is deleted, decided or not.
    # 0 keeps no text at all (the queue stays empty). SECURITY.md says what is kept.
    queue_retention_days: int = Field(
        14, ge=0, le=3650, description="days a held comment's text is kept for the console's queue (0: none)"
    )
    # Signs console sessions and CSRF tokens: 32+ characters, the same for every worker. Empty: a random one
    # per process, so sessions end at a restart. repr=False, environment only: it is a secret.
    console_secret: str = Field("", repr=False)
    # The session cookie's Secure flag: "auto" sets it when the request came over HTTPS (X-Forwarded-Proto
    # from a trusted proxy counts); "always" behind a TLS proxy that is not listed in trusted_proxies.
    console_secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag of the console's session cookie: auto (when HTTPS), always or never"
    )
    console_session_hours: float = Field(12.0, gt=0, le=720, description="hours a console sign-in lasts")

    # -- abuse limits -----------------------------------------------------------------------------------
    # Requests per minute per API key (per client address without a key); 429 + Retry-After beyond it.
    # 1,200/min covers a busy site's comment stream with batching; 0 turns the limit off.
    rate_limit_per_minute: float = Field(1200.0, ge=0.0)
    # Browser origins allowed to call the API. Empty: no CORS headers at all (the API is for backends).
    cors_origins: list[str] = Field(default_factory=list)
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are believed: the
    # client address (for the rate limit) is then the nearest one in X-Forwarded-For that is not a trusted
    # proxy. Empty: the headers are ignored from everyone, so no client can choose its own address. A JSON
    # list or comma-separated: "127.0.0.1" for nginx on this host, "10.0.0.0/8" for a load balancer's network.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # -- CPU ----------------------------------------------------------------------------------------------
    # Threads for the sentence embedding (ONNX Runtime or torch); 0 keeps the model's own choice (half the
    # cores). With one worker on an otherwise idle 2-core machine, 2 nearly doubles batch throughput; with
    # 2 workers keep 1 each.
    embedding_threads: int = Field(0, ge=0, le=64)
    # Read by `python -m serve` only (serve/workers.py); a worker process is one of them, whatever this says.
    workers: int = Field(1, ge=1, le=64, description="worker processes, each with its own model copy (2 suits 2 cores)")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        out = []
        for item in (v.strip() for v in value):
            try:
                out.append(str(ipaddress.ip_network(item) if "/" in item else ipaddress.ip_address(item)))
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or a CIDR network (such as 10.0.0.1 or 10.0.0.0/8); "
                    "list the addresses of the reverse proxies in front of this service"
                ) from None
        return out

    def uvicorn_proxy_options(self) -> dict[str, Any]:
        """uvicorn's proxy settings. Its defaults believe X-Forwarded-For from 127.0.0.1, so any local client,
        or a proxy on this host that passes the client's own header through (nginx does by default), could
        pick its rate-limit bucket per request; here only the listed proxies are believed."""
        if not self.trusted_proxies:
            return {"proxy_headers": False}
        return {"proxy_headers": True, "forwarded_allow_ips": list(self.trusted_proxies)}
