"""Small factories for test data, so tests say only what matters to them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from loyalty.models import Customer, User
from loyalty.services import accounts
from loyalty.types import utcnow

_sequence = itertools.count(1)

DEFAULT_PASSWORD = "correct horse battery"


def make_user(session: Session, email: str | None = None, password: str = DEFAULT_PASSWORD) -> User:
    """An account with a known password."""
    n = next(_sequence)
    user = accounts.create_account(session, email or f"owner{n}@example.com", password)
    session.flush()
    return user


def make_customer(session: Session, user: User, **fields) -> Customer:
    """A customer of `user`; any field can be given."""
    n = next(_sequence)
    values = {
        "external_customer_id": f"cus_{n:05d}",
        "name": f"Customer {n}",
        "email": f"customer{n}@example.org",
        "signup_date": utcnow() - timedelta(days=90),
    }
    values.update(fields)
    customer = Customer(user_id=user.id, **values)
    session.add(customer)
    session.flush()
    return customer


def days_ago(days: float) -> datetime:
    """A moment `days` before now."""
    return utcnow() - timedelta(days=days)
