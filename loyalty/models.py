"""The tables, as SQLAlchemy mapped classes (names follow the spec, in snake_case)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from loyalty.domain import scoring
from loyalty.types import JSONType, UTCDateTime, utcnow

# Stable constraint names, so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mapped class."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamps:
    """createdAt and updatedAt, kept by the ORM."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccountOwned:
    """Rows that belong to one account: every ORM query is limited to it (see db.py)."""

    @declared_attr
    def user_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


def _user_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(UserMixin, Timestamps, Base):
    """An account: the customer-success manager who signs in, and the tenant."""

    __tablename__ = "users"

    # Set when loaded for a request: the browser-session token flask-login keeps in the cookie.
    browser_token = None

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password: Mapped[str] = mapped_column(String(255))
    company_name: Mapped[str] = mapped_column(String(200), default="")
    # Signs survey embeds made by the account's own backend (HMAC).
    embed_secret: Mapped[str] = mapped_column(String(64))
    # When the whole account was last rescored: scores it left unchanged are this fresh.
    scores_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The IANA zone pages show moments in and read typed times in (loyalty/time_zones.py).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    def get_id(self) -> str | None:
        """What the session cookie remembers: the browser session, not the account id."""
        return self.browser_token


class UserSession(Base):
    """A signed-in browser: deleting the row logs that browser out, cookie or not."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[uuid.UUID] = _user_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(AccountOwned, Base):
    """A bearer token for programs using the JSON API; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Indexes the models do not describe: migration 0015 makes the trigram index of customer
# search on PostgreSQL only.
DATABASE_ONLY_INDEXES = frozenset({"ix_customer_search_text"})


class Customer(AccountOwned, Timestamps, Base):
    """A customer of the account's business, whose churn risk we watch."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("user_id", "external_customer_id", name="uq_customers_user_external_id"),
        # The customer table sorts and pages by each of these within one account.
        Index("ix_customers_user_risk", "user_id", "churn_risk_score", "id"),
        Index("ix_customers_user_name", "user_id", "name", "id"),
        Index("ix_customers_user_email", "user_id", "email", "id"),
        Index("ix_customers_user_signup", "user_id", "signup_date", "id"),
        Index("ix_customers_user_last_engagement", "user_id", "last_engagement_date", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    external_customer_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    signup_date: Mapped[datetime] = mapped_column(UTCDateTime)
    churn_risk_score: Mapped[float | None] = mapped_column(Float)
    # What the score was computed from (domain.scoring.STORED_FACTS): the reasons are worded
    # from these facts when shown, as of churn_scored_at or the account's last full rescore.
    churn_risk_facts: Mapped[dict | None] = mapped_column(JSONType)
    churn_scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_engagement_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every edit, so a stale form or API update is refused instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    tags: Mapped[list[CustomerTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CustomerTag.tag"
    )

    @property
    def knows_nothing(self) -> bool:
        """No event and no answer yet: the score is a placeholder (as the table's rows say)."""
        return scoring.knows_nothing(self.churn_risk_facts)


class CustomerSearch(AccountOwned, Base):
    """What the table's free-text filter searches: a customer's name, e-mail and external id
    in one lower-cased text. The database writes it (triggers, migration 0015) when one of
    them changes, so a score written never touches the search index."""

    __tablename__ = "customer_search"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The customer's account, which leads the search index; no foreign key of its own (the
    # customer's rows go with it, by trigger).
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    search_text: Mapped[str] = mapped_column(Text)


class CustomerTag(AccountOwned, Base):
    """A free-form label on a customer ("vip", "trial"), usable in filters and criteria."""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_user_tag", "user_id", "tag"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The customer's account, copied for the (account, tag) index; the customer's own key
    # already cascades, so this column has no foreign key to check on every tag written.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class CustomerSegment(AccountOwned, Timestamps, Base):
    """A named group of customers, by criteria (automatic) or by hand (manual)."""

    __tablename__ = "customer_segments"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_customer_segments_user_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[dict | None] = mapped_column(JSONType)
    is_automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    members_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerSegmentMembership(Base):
    """A customer in a segment; adding the same pair twice is harmless."""

    __tablename__ = "customer_segment_memberships"
    __table_args__ = (
        Index("ix_memberships_segment_customer", "customer_segment_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    customer_segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_segments.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackSurvey(AccountOwned, Timestamps, Base):
    """A survey (NPS, satisfaction or free text) the account sends to customers."""

    __tablename__ = "feedback_surveys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="nps")
    question: Mapped[str] = mapped_column(String(500), default="")


class SurveyInvitation(AccountOwned, Base):
    """A personal survey link sent to one customer; the outbox lists these."""

    __tablename__ = "survey_invitations"
    __table_args__ = (Index("ix_survey_invitations_survey", "feedback_survey_id", "sent_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    feedback_survey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_surveys.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    email_to: Mapped[str] = mapped_column(String(254))
    email_subject: Mapped[str] = mapped_column(String(300))
    email_body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SurveyResponse(AccountOwned, Base):
    """One customer's answer to a survey."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        Index("ix_survey_responses_survey_submitted", "feedback_survey_id", "submitted_at"),
        Index("ix_survey_responses_customer_submitted", "customer_id", "submitted_at"),
        # The dashboard's latest comments: newest first, stop after a few.
        Index("ix_survey_responses_user_submitted", "user_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    feedback_survey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_surveys.id", ondelete="CASCADE")
    )
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True
    )
    response: Mapped[dict] = mapped_column(JSONType)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngagementEvent(AccountOwned, Base):
    """Something a customer did or that happened to them (login, support ticket, ...)."""

    __tablename__ = "engagement_history"
    __table_args__ = (
        Index("ix_engagement_history_customer_date", "customer_id", "event_date"),
        # One index serves the account's timeline, the dashboard's weeks and the event rules
        # of segments (type is checked inside the index); each index costs every insert.
        Index("ix_engagement_history_user_date_type", "user_id", "event_date", "event_type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The customer's account, copied for the account's indexes; the customer's own key
    # already cascades, so this column has no foreign key to check on every event written.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(50))
    event_date: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(AccountOwned, Base):
    """A remembered API answer, so a retried request with the same key is not applied twice."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportUpload(AccountOwned, Base):
    """A file waiting to be imported: kept in the database so any web process can finish it."""

    __tablename__ = "import_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = _user_fk()
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngagementDay(AccountOwned, Base):
    """How many events of one type an account's customers had on one UTC day.

    Kept by database triggers on engagement_history (migration 0007), so every way events
    arrive or leave (API, forms, imports, COPY, cascading deletes) keeps it right; the
    dashboard's trend reads a few dozen of these rows instead of months of events.
    """

    __tablename__ = "engagement_days"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class ScoreCount(AccountOwned, Base):
    """How many of an account's customers have a score from `whole` up to (not including)
    `whole` + 1, and the sum of their scores; `whole` is -1 for customers not scored yet.

    Kept by database triggers on customers (migration 0008), like `EngagementDay`: the
    dashboard's bands, histogram and average read about a hundred rows, not every customer.
    """

    __tablename__ = "score_counts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    whole: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customers: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)


class NpsDay(AccountOwned, Base):
    """How many NPS answers with one score (0-10) an account received on one UTC day.

    Kept by database triggers on survey_responses (migration 0008) for the dashboard's NPS.
    """

    __tablename__ = "nps_days"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    score: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answers: Mapped[int] = mapped_column(Integer)


class SegmentCount(AccountOwned, Base):
    """A segment's members, how many of them are scored, and the sum of their scores.

    Kept by database triggers on memberships and customers (migration 0010), so segment
    pages read one row instead of joining every membership to its customer.
    """

    __tablename__ = "segment_counts"

    customer_segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_segments.id", ondelete="CASCADE"), primary_key=True
    )
    # The segment's account, for account scoping; the segment's key already cascades.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    members: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)

    @property
    def average_risk(self) -> float | None:
        """The members' average score, or None when none is scored."""
        return self.score_sum / self.scored if self.scored else None


class SurveyCount(AccountOwned, Base):
    """How many invitations a survey sent and how many answers it got.

    Kept by database triggers on invitations and answers (migration 0013), so the survey
    list reads one row per survey instead of counting them all.
    """

    __tablename__ = "survey_counts"

    feedback_survey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_surveys.id", ondelete="CASCADE"), primary_key=True
    )
    # The survey's account, for account scoping; the survey's key already cascades.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    invitations: Mapped[int] = mapped_column(Integer)
    responses: Mapped[int] = mapped_column(Integer)


class RescoreQueueItem(Base):
    """A customer whose events arrived in bulk and who waits for `flask rescore-worker`.

    Written only with QUEUE_RESCORES=1 (see services/rescore_queue.py). Not account-scoped
    like the rest: only the ingestion path and the worker touch it, both by account id.
    """

    __tablename__ = "rescore_queue"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ScoreSnapshot(AccountOwned, Base):
    """One day's customer count and average churn risk, for trends on the dashboard."""

    __tablename__ = "score_snapshots"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_count: Mapped[int] = mapped_column(Integer)
    average_score: Mapped[float | None] = mapped_column(Float)
    high_risk_count: Mapped[int] = mapped_column(Integer, default=0)
