"""Settings from the environment, in one place, with defaults for development."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENVIRONMENTS = ("development", "production", "testing")

# Uploads (CSV/JSON imports) and API bodies larger than this get a clear 413.
DEFAULT_MAX_UPLOAD_MB = 50


class ConfigError(RuntimeError):
    """Raised at start-up when a required setting is missing or wrong."""


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the way hosting platforms hand them out."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret_key(instance_path: Path) -> str:
    """Keep a random key under instance/ so development sessions survive restarts."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(instance_path: Path, environ: dict[str, str] | None = None) -> dict:
    """Read every setting the app uses from the environment."""
    env = os.environ if environ is None else environ
    app_env = env.get("APP_ENV", "development")
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {app_env!r}.")
    production = app_env == "production"

    secret_key = env.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY is required when APP_ENV=production: set it to a long random "
                "string, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        secret_key = _development_secret_key(instance_path)

    default_db = "sqlite:///" + str(instance_path / "loyalty.sqlite3")
    max_upload_mb = int(env.get("MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))

    return {
        "APP_ENV": app_env,
        "SECRET_KEY": secret_key,
        "DATABASE_URL": normalize_database_url(env.get("DATABASE_URL", default_db)),
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "1") != "0",
        # Bulk event ingestion leaves rescoring to `flask rescore-worker` (see Procfile).
        "QUEUE_RESCORES": env.get("QUEUE_RESCORES", "0") != "0",
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        "SMTP_HOST": env.get("SMTP_HOST", ""),
        "SMTP_PORT": int(env.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_FROM": env.get("SMTP_FROM", "Loyalty Guardian <no-reply@localhost>"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": production,
        # Strong hashes in production; tests lower these (see tests/conftest.py).
        "ARGON2_TIME_COST": int(env.get("ARGON2_TIME_COST", "3")),
        "ARGON2_MEMORY_COST": int(env.get("ARGON2_MEMORY_COST", str(64 * 1024))),
        "ARGON2_PARALLELISM": int(env.get("ARGON2_PARALLELISM", "4")),
    }
