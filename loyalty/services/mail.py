"""Real e-mail for survey invitations, when SMTP settings are given (otherwise: the outbox)."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from email.message import EmailMessage

from loyalty.models import SurveyInvitation
from loyalty.types import utcnow

log = logging.getLogger(__name__)


def smtp_configured(config: Mapping) -> bool:
    """True when SMTP_HOST is set."""
    return bool(config.get("SMTP_HOST"))


def deliver(config: Mapping, invitations: Iterable[SurveyInvitation]) -> int:
    """Send each invitation over one SMTP connection; marks the delivered ones.

    A failure is logged and leaves the rest in the outbox (delivered_at stays empty), so
    nothing is lost: the links work whether or not the e-mail went out.
    """
    if not smtp_configured(config):
        return 0
    delivered = 0
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=15) as smtp:
            if config["SMTP_PORT"] != 25:
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            for invitation in invitations:
                message = EmailMessage()
                message["From"] = config["SMTP_FROM"]
                message["To"] = invitation.email_to
                message["Subject"] = invitation.email_subject
                message.set_content(invitation.email_body)
                smtp.send_message(message)
                invitation.delivered_at = utcnow()
                delivered += 1
    except (OSError, smtplib.SMTPException):
        log.exception(
            "SMTP delivery stopped after %d messages; the rest stay in the outbox", delivered
        )
    return delivered
