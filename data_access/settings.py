"""The one settings object of the product, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
SUPPORTED_SCHEMES = ("sqlite", "postgresql")


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the outcomes database; unset means the SQLite "
        "file data/outcomes.sqlite in the project.",
    )
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Folder of the default SQLite file."
    )
    query_timeout_seconds: float = Field(default=30.0, gt=0, description="Longest a read may run.")
    query_row_limit: int = Field(default=500_000, gt=0, description="Most rows a read may return.")
    small_cell_threshold: int = Field(
        default=11,
        ge=2,
        description="Smallest count shown to state partners and in suppressed downloads; "
        "counts from 1 to one less are suppressed (CMS cell-size rule: 11).",
    )
    runout_months: int = Field(
        default=3,
        ge=0,
        description="Months before the data-through month (and that month) whose claims may "
        "still be arriving; they are marked provisional and never compared as complete.",
    )
    cache_ttl_seconds: int = Field(
        default=600, ge=0, description="How long the dashboard caches a result."
    )

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        url = url.strip()
        scheme = url.split(":", 1)[0].split("+", 1)[0]
        if scheme == "postgres":
            url = "postgresql" + url[len("postgres") :]
            scheme = "postgresql"
        if scheme not in SUPPORTED_SCHEMES:
            raise ValueError(
                f"DATABASE_URL {url.split('@')[-1]!r} uses {scheme!r}; use a sqlite:/// path "
                "or a postgresql://user@host:port/database URL"
            )
        if scheme == "postgresql" and "+" not in url.split(":", 1)[0]:
            url = "postgresql+psycopg" + url[len("postgresql") :]
        return url

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'outcomes.sqlite'}"


def load_settings() -> Settings:
    """Build settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(
            f"Invalid settings: {problems}. Fix the environment or .env file."
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
