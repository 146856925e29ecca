"""Real e-mail, when SMTP settings are given: survey invitations (otherwise the outbox shows
them) and password reset links (otherwise, outside production, the log shows them)."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage

from loyalty.models import SurveyInvitation
from loyalty.types import utcnow

log = logging.getLogger(__name__)


def smtp_configured(config: Mapping) -> bool:
    """True when SMTP_HOST is set."""
    return bool(config.get("SMTP_HOST"))


RESET_SUBJECT = "Reset your Loyalty Guardian password"
RESET_BODY = """Hello,

Someone, hopefully you, asked to reset the password of your Loyalty Guardian account.
Choose a new one here (the link works once, for an hour):

{link}

If it was not you, ignore this e-mail: your password stays as it is.
"""


@contextmanager
def _smtp(config: Mapping) -> Iterator[smtplib.SMTP]:
    """One SMTP connection, encrypted (STARTTLS unless port 25) and logged in when set."""
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=15) as smtp:
        if config["SMTP_PORT"] != 25:
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        yield smtp


def _message(config: Mapping, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def deliver(config: Mapping, invitations: Iterable[SurveyInvitation]) -> int:
    """Send each invitation over one SMTP connection; marks the delivered ones.

    A failure is logged and leaves the rest in the outbox (delivered_at stays empty), so
    nothing is lost: the links work whether or not the e-mail went out.
    """
    if not smtp_configured(config):
        return 0
    delivered = 0
    try:
        with _smtp(config) as smtp:
            for invitation in invitations:
                smtp.send_message(
                    _message(
                        config, invitation.email_to, invitation.email_subject, invitation.email_body
                    )
                )
                invitation.delivered_at = utcnow()
                delivered += 1
    except (OSError, smtplib.SMTPException):
        log.exception(
            "SMTP delivery stopped after %d messages; the rest stay in the outbox", delivered
        )
    return delivered


def send_password_reset(config: Mapping, to: str, link: str) -> None:
    """E-mail a password reset link. Without SMTP the link goes to the log instead, except
    in production, where a log would be the wrong place for it."""
    if not smtp_configured(config):
        if config.get("APP_ENV") == "production":
            log.warning("A password reset was asked for, but SMTP_HOST is not set to send it.")
        else:
            log.warning("No SMTP_HOST: the password reset link for %s is %s", to, link)
        return
    try:
        with _smtp(config) as smtp:
            smtp.send_message(_message(config, to, RESET_SUBJECT, RESET_BODY.format(link=link)))
    except (OSError, smtplib.SMTPException):
        log.exception("The password reset e-mail could not be sent")
