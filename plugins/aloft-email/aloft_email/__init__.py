"""The ``email`` channel type: one message per event to the channel's recipients, over SMTP.

The server is the operator's (``ALOFT_SMTP_*``); the channel only names recipients. TLS is
STARTTLS (the default) or implicit TLS, and the server's certificate is verified against
the system's and certifi's CAs (a private CA: ``SSL_CERT_FILE``) unless
``ALOFT_SMTP_VERIFY=false``. Each message has a plain-text part and an HTML part built
from fixed fields, the HTML one escaped, so a monitor's name comes out as typed.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

import aloft
from aloft import targets
from aloft.channels import ChannelTarget, ChannelType, DeliveryError, Notification

__version__ = "0.1.0"

TLS_MODES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
COLORS = {"opened": "#c0392b", "resolved": "#27ae60", "acknowledged": "#2c3e50", "test": "#2c3e50"}
SUBJECT_PREFIX = "[Aloft] "


class EmailConfig(Schema):
    """An e-mail channel: who receives the messages."""

    class Meta:
        unknown = RAISE

    to = fields.List(
        fields.Email(),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Recipients' addresses (1-50); one message per event goes to all of them."},
    )


class SmtpSettings(Schema):
    """The SMTP server e-mail channels send through: ``ALOFT_SMTP_*`` on the server."""

    host = fields.String(data_key="ALOFT_SMTP_HOST", required=True, validate=validate.Length(min=1))
    port = fields.Integer(data_key="ALOFT_SMTP_PORT", validate=validate.Range(1, 65535))
    tls = fields.String(data_key="ALOFT_SMTP_TLS", load_default="starttls", validate=validate.OneOf(TLS_MODES))
    verify = fields.Boolean(data_key="ALOFT_SMTP_VERIFY", load_default=True)
    user = fields.String(data_key="ALOFT_SMTP_USER")
    password = fields.String(data_key="ALOFT_SMTP_PASSWORD")
    sender = fields.Email(data_key="ALOFT_SMTP_FROM", required=True)

    @validates_schema
    def login_needs_both(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("user" in data) != ("password" in data):
            missing = "ALOFT_SMTP_PASSWORD" if "user" in data else "ALOFT_SMTP_USER"
            raise ValidationError("Set both ALOFT_SMTP_USER and ALOFT_SMTP_PASSWORD, or neither.", missing)


class EmailChannel(ChannelType):
    """Mail each event to the channel's recipients through the server's SMTP relay."""

    name = "email"
    description = "E-mail incidents to a list of addresses through the server's SMTP relay (ALOFT_SMTP_*)."
    config_schema = EmailConfig
    server_settings_schema = SmtpSettings

    def send(self, channel: ChannelTarget, notification: Notification) -> None:
        message = compose(notification, self.settings["sender"], channel.config["to"])
        try:
            with self._connect() as smtp:
                if "user" in self.settings:
                    smtp.login(self.settings["user"], self.settings["password"])
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            reasons = "; ".join(
                f"{to}: {code} {text.decode(errors='replace')}" for to, (code, text) in refused.recipients.items()
            )
            raise DeliveryError(f"The SMTP server refused the recipients: {reasons}", permanent=True) from None
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"The SMTP server refused the login: {_reply(error)}", permanent=True) from None
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"The SMTP server does not support it: {error}", permanent=True) from None
        except smtplib.SMTPResponseException as error:
            # 5xx: the server will say the same next time; 4xx: it asks us to come back later.
            raise DeliveryError(f"The SMTP server answered {_reply(error)}", permanent=error.smtp_code >= 500) from None
        except ssl.SSLCertVerificationError as error:
            raise DeliveryError(
                targets.connection_failure(error, self.settings["host"], self.timeout), permanent=True
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            failure = (
                targets.connection_failure(error, self.settings["host"], self.timeout)
                if isinstance(error, OSError)
                else str(error)
            )
            raise DeliveryError(f"SMTP {self.settings['host']}: {failure}") from None

    def _connect(self) -> smtplib.SMTP:
        mode = self.settings["tls"]
        host = self.settings["host"]
        port = self.settings.get("port") or DEFAULT_PORTS[mode]
        context = targets.tls_context() if self.settings["verify"] else _unverified_context()
        if mode == "tls":
            return smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(host, port, timeout=self.timeout)
        try:
            if mode == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def compose(notification: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    """The message: a subject line, a plain-text part and an escaped HTML part, from fixed fields."""
    message = EmailMessage()
    # One line: a monitor name cannot add headers.
    message["Subject"] = SUBJECT_PREFIX + " ".join(notification.title.split())
    message["From"] = sender
    message["To"] = ", ".join(str(Address(addr_spec=recipient)) for recipient in recipients)
    message["Date"] = format_datetime(notification.at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if notification.incident_id:
        message["X-Aloft-Incident"] = notification.incident_id
    facts = notification.lines()
    message.set_content(
        "\n".join([notification.title, "", *(f"{label}: {value}" for label, value in facts), "", "-- Aloft"])
    )
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{html.escape(label)}</th>'
        f"<td>{_link(value) if label == 'Details' else html.escape(value)}</td></tr>"
        for label, value in facts
    )
    color = COLORS[notification.kind]
    message.add_alternative(
        f'<!doctype html><html><body style="font-family:sans-serif">'
        f'<h2 style="color:{color}">{html.escape(notification.title)}</h2>'
        f'<table>{rows}</table><p style="color:#888">Aloft</p></body></html>',
        subtype="html",
    )
    return message


def _link(url: str) -> str:
    escaped = html.escape(url, quote=True)
    return f'<a href="{escaped}">{escaped}</a>'


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
    return f"{error.smtp_code} {' '.join(text.split())}"


@cache
def _unverified_context() -> ssl.SSLContext:
    """For ``ALOFT_SMTP_VERIFY=false``: encrypts, trusts anything."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@aloft.hookimpl
def register_channel_types() -> list[type[ChannelType]]:
    return [EmailChannel]
