"""Loyalty Guardian: see who is drifting away early, why, and what to do about it."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from loyalty.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI commands."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)

    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the database, sign-in, CSRF and rate limiting to the app."""
    from loyalty.extensions import db, limiter
    from loyalty.security import init_security

    db.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    init_security(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per area."""
    from loyalty.views import (
        api,
        auth,
        customers,
        dashboard,
        events,
        health,
        imports,
        public,
        segments,
        surveys,
    )

    for module in (
        health,
        auth,
        dashboard,
        imports,
        customers,
        events,
        segments,
        surveys,
        public,
        api,
    ):
        app.register_blueprint(module.bp)


def register_error_handlers(app: Flask) -> None:
    """Friendly pages for people, problem+json for the API."""
    from loyalty.errors import register_error_handlers as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals the templates share."""
    from loyalty import template_helpers

    template_helpers.init_app(app)


def register_commands(app: Flask) -> None:
    """`flask --app app ...` commands."""
    from loyalty import commands

    commands.init_app(app)
