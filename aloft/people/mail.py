"""Aloft's own e-mail to people (password-reset links, invitations), through the e-mail channel's relay.

Sent in the request that asks for it, with a short timeout: a failure is logged (without the
link) and the page answers as if it was sent, so that it tells nothing about the account.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

from aloft import targets
from aloft.config import SmtpSettings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


def send_mail(to: str, subject: str, text: str) -> bool:
    """Send a plain-text message; False (and one log line) when it could not be sent or SMTP is not set up."""
    smtp_settings: SmtpSettings | None = current_app.extensions["aloft.settings"].smtp
    if smtp_settings is None:
        return False
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp_settings.sender, to, "[Aloft] " + subject
    message.set_content(text)
    try:
        with _connect(smtp_settings) as smtp:
            if smtp_settings.user and smtp_settings.password:
                smtp.login(smtp_settings.user, smtp_settings.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("Could not send %r to %s via %s: %s", subject, to, smtp_settings.host, error)
        return False
    return True


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = targets.tls_context() if settings.verify else ssl._create_unverified_context()
    if settings.tls == "tls":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=context)
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
    try:
        if settings.tls == "starttls":
            smtp.starttls(context=context)
    except BaseException:
        smtp.close()
        raise
    return smtp
