"""Settings: what is required where, and the development defaults."""

from __future__ import annotations

import pytest

from loyalty.config import ConfigError, load_config, normalize_database_url


def test_secret_key_is_required_in_production(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_config(tmp_path, {"APP_ENV": "production"})


def test_development_keeps_a_random_key_under_instance(tmp_path):
    first = load_config(tmp_path, {})["SECRET_KEY"]
    assert len(first) >= 32
    assert load_config(tmp_path, {})["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_sqlite_under_instance_is_the_default_database(tmp_path):
    assert load_config(tmp_path, {})["DATABASE_URL"] == f"sqlite:///{tmp_path}/loyalty.sqlite3"


def test_production_cookies_are_secure(tmp_path):
    config = load_config(tmp_path, {"APP_ENV": "production", "SECRET_KEY": "k" * 40})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config(tmp_path, {"APP_ENV": "staging"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(given, expected):
    assert normalize_database_url(given) == expected


def test_argon2_defaults_meet_owasp_minimum(tmp_path):
    config = load_config(tmp_path, {})
    # OWASP: argon2id with at least 19 MiB, 2 iterations, 1 degree of parallelism.
    assert config["ARGON2_MEMORY_COST"] >= 19 * 1024
    assert config["ARGON2_TIME_COST"] >= 2
    assert config["ARGON2_PARALLELISM"] >= 1
