"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from loyalty.extensions import db
from loyalty.services import rescore_queue
from loyalty.types import utcnow

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up (says nothing about the database)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers.

    With QUEUE_RESCORES it also tells how far the rescore worker is behind, for monitoring
    to alert on; a backlog does not make the web unready (serving goes on regardless).
    """
    try:
        db.session.execute(text("SELECT 1"))
        backlog = _rescore_backlog() if current_app.config["QUEUE_RESCORES"] else None
    except SQLAlchemyError:
        db.session.rollback()
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    if backlog is None:
        return jsonify(status="ok", database="ok")
    return jsonify(status="ok", database="ok", rescore_queue=backlog)


def _rescore_backlog() -> dict:
    count, oldest = rescore_queue.waiting(db.session)
    age = (utcnow() - oldest).total_seconds() if oldest else 0
    return {"waiting": count, "oldest_seconds": round(age)}
