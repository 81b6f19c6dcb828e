"""One settings object, read from the environment (or a `.env` file) by every process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bpo.constants import TASK_QUEUE


class Settings(BaseSettings):
    """Where the engine connects and keeps its data; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_tls_cert: Path | None = Field(default=None, alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(default=None, alias="TEMPORAL_TLS_KEY")
    temporal_api_key: str | None = Field(default=None, alias="TEMPORAL_API_KEY", repr=False)
    task_queue: str = Field(default=TASK_QUEUE, alias="BPO_TASK_QUEUE")
    data_dir: Path = Field(default=Path(".data"), alias="BPO_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    encryption_key: str | None = Field(default=None, alias="BPO_ENCRYPTION_KEY", repr=False)
    encryption_old_keys: str = Field(default="", alias="BPO_ENCRYPTION_OLD_KEYS", repr=False)
    log_format: Literal["auto", "json", "console"] = Field(default="auto", alias="BPO_LOG_FORMAT")
    log_level: str = Field(default="info", alias="BPO_LOG_LEVEL")

    @property
    def audit_url(self) -> str:
        """The audit database: ``DATABASE_URL``, else SQLite in the data folder."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'audit.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
