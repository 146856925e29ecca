"""Flask extensions, created without an app and bound in create_app()."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from loyalty.db import db

login_manager = LoginManager()
csrf = CSRFProtect()


def _client_address() -> str:
    return get_remote_address() or request.remote_addr or "unknown"


limiter = Limiter(key_func=_client_address, default_limits=[], headers_enabled=True)

__all__ = ["csrf", "db", "limiter", "login_manager"]
