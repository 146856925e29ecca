"""Accounts: sign-up, password checks, and the server-side record of signed-in browsers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.models import (
    Customer,
    CustomerSearch,
    CustomerSegment,
    CustomerSegmentMembership,
    CustomerTag,
    EngagementEvent,
    RescoreQueueItem,
    SurveyResponse,
    User,
    UserSession,
)
from loyalty.types import utcnow


class EmailTaken(Exception):
    """Sign-up with an e-mail that already has an account."""


def password_hasher() -> PasswordHasher:
    """argon2id with the parameters configured for this app (strong unless testing)."""
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def create_account(
    session: Session, email: str, password: str, company_name: str = "", time_zone: str = "UTC"
) -> User:
    """Create an account; raise EmailTaken if the address is already registered."""
    user = User(
        email=normalize_email(email),
        password=password_hasher().hash(password),
        company_name=company_name.strip(),
        embed_secret=secrets.token_hex(32),
        time_zone=time_zone,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as error:
        raise EmailTaken(email) from error
    return user


# A hash of a password nobody has: unknown e-mails cost the same time as wrong passwords.
_DUMMY_PASSWORD = secrets.token_urlsafe(16)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The account for these credentials, or None; rehashes when parameters changed."""
    hasher = password_hasher()
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        try:
            hasher.verify(hasher.hash(_DUMMY_PASSWORD), password)
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(user.password, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password):
        user.password = hasher.hash(password)
    return user


def change_password(session: Session, user: User, new_password: str, keep_session: str) -> None:
    """Set a new password and sign out every other browser of this account."""
    user.password = password_hasher().hash(new_password)
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != keep_session)
    )


RESET_LINK_SECONDS = 3600  # a password reset link works for an hour, and once


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="password-reset")


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password.encode()).hexdigest()[:16]


def password_reset_token(user: User, secret_key: str) -> str:
    """The token of a reset link: signed, it names the account and the password it replaces,
    so it stops working once that password has changed (and after RESET_LINK_SECONDS)."""
    return _reset_serializer(secret_key).dumps([str(user.id), _password_fingerprint(user)])


def account_for_reset_token(session: Session, token: str, secret_key: str) -> User | None:
    """The account a reset link is for, or None when it expired, was used or is forged."""
    try:
        user_id, fingerprint = _reset_serializer(secret_key).loads(
            token, max_age=RESET_LINK_SECONDS
        )
        user = session.get(User, uuid.UUID(user_id))
    except (BadSignature, ValueError, TypeError):
        return None
    if user is None or not hmac.compare_digest(_password_fingerprint(user), fingerprint):
        return None
    return user


def delete_account(session: Session, user: User) -> None:
    """Delete the account with everything it holds: customers with their events, tags,
    answers and memberships, segments, surveys, API tokens, browser sessions, kept counts.

    The account row's cascades alone would remove each customer's rows one customer at a
    time (9-12 s at 100,000 customers with 1M events); the largest tables go first, each in
    one statement (under 4 s), and the cascades then remove the rest."""
    account = user.id
    segments = select(CustomerSegment.id).where(CustomerSegment.user_id == account)
    for statement in (
        delete(EngagementEvent).where(EngagementEvent.user_id == account),
        delete(SurveyResponse).where(SurveyResponse.user_id == account),
        delete(CustomerTag).where(CustomerTag.user_id == account),
        delete(CustomerSearch).where(CustomerSearch.user_id == account),
        delete(CustomerSegmentMembership).where(
            CustomerSegmentMembership.customer_segment_id.in_(segments)
        ),
        delete(Customer).where(Customer.user_id == account),
        # The queue keeps no key to the account: left behind, its rows would send the
        # rescore worker after an account that is gone.
        delete(RescoreQueueItem).where(RescoreQueueItem.user_id == account),
        delete(User).where(User.id == account),
    ):
        session.execute(statement, execution_options={"synchronize_session": False})
    session.expunge_all()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_browser_session(session: Session, user: User, user_agent: str = "") -> str:
    """Record a new signed-in browser; return the token its cookie will carry."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=_digest(token), user_id=user.id, user_agent=user_agent[:300]))
    return token


def find_browser_session(session: Session, token: str) -> UserSession | None:
    """The live browser session for a cookie token, or None once it was ended."""
    if not token:
        return None
    return session.get(UserSession, _digest(token))


def end_browser_session(session: Session, token: str) -> None:
    """Sign one browser out: its cookie, even replayed, no longer works."""
    session.execute(delete(UserSession).where(UserSession.id == _digest(token)))


def session_key(token: str) -> str:
    """The stored key of a browser session token."""
    return _digest(token)


def find_account(session: Session, email: str) -> User | None:
    """The account with this e-mail address, if any."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def touch(user_session: UserSession) -> bool:
    """Note that the browser was seen (at most once a minute, to spare writes); True when
    that changed the row, for the caller to save."""
    now = utcnow()
    if (now - user_session.last_seen_at).total_seconds() <= 60:
        return False
    user_session.last_seen_at = now
    return True
