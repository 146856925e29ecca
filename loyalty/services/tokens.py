"""API tokens: random secrets shown once, kept only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import ApiToken, User
from loyalty.types import utcnow

TOKEN_PREFIX = "lg_"  # noqa: S105 (a marker that makes leaked tokens easy to scan for)
TOUCH_EVERY = timedelta(minutes=1)  # last-used time is kept to the minute, not per request


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, account_id: uuid.UUID, name: str) -> tuple[ApiToken, str]:
    """A new token (256 random bits); returns the row and the only copy of the secret."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=account_id, name=name.strip()[:100], token_hash=_digest(secret), prefix=secret[:10]
    )
    session.add(token)
    session.flush()
    return token, secret


def account_tokens(session: Session) -> list[ApiToken]:
    """The signed-in account's tokens, newest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def revoke_token(session: Session, token: ApiToken) -> None:
    """Refuse the token from now on."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()


def authenticate(session: Session, secret: str) -> User | None:
    """The account a bearer token belongs to, or None (unknown or revoked)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        token.last_used_at = now
        session.commit()
    return session.get(User, token.user_id)
