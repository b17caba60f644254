"""Service settings, read from the environment (prefix MODERATION_) or given by the command line."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODERATION_", extra="ignore", protected_namespaces=())

    model_dir: Path = Field(Path("models/current"), description="model directory, or models/ to use its `current`")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # 2 MiB: room for 256 comments of a few KB each, and for a single over-long text to get a 422 naming it.
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    max_comments: int = Field(256, ge=1)
    max_text_chars: int = Field(10_000, ge=1)
    log_level: str = "info"
