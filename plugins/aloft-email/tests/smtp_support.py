"""A real SMTP server for the tests: aiosmtpd on a free local port, with a trustme certificate."""

import socket
import ssl
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "aloft", "s3cret"


@dataclass
class Inbox:
    """What a local SMTP server (aiosmtpd) received; ``answers`` overrides its replies by SMTP command."""

    messages: list = field(default_factory=list)
    answers: dict = field(default_factory=dict)
    tls_sessions: list = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "RCPT" in self.answers:
            return self.answers["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "DATA" in self.answers:
            return self.answers["DATA"]
        self.tls_sessions.append(server.transport.get_extra_info("ssl_object") is not None)
        self.messages.append(envelope)
        self.arrived.set()
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    # handled=False: aiosmtpd answers a failure with 535 itself.
    ok = (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


def start_smtp(ca, *, mode: str, trusted_name: str = "127.0.0.1") -> tuple[Controller, SmtpServer]:
    """An aiosmtpd server on a free port, with a certificate for ``trusted_name`` from ``ca``."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(trusted_name).configure_cert(server_context)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    inbox = Inbox()
    options = (
        {"ssl_context": server_context} if mode == "tls" else {"tls_context": server_context, "require_starttls": True}
    )
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        # aiosmtpd counts only STARTTLS as TLS; an implicit-TLS session is encrypted all the same.
        auth_require_tls=mode != "tls",
        server_hostname="127.0.0.1",
        **options,
    )
    controller.start()
    return controller, SmtpServer(inbox, port)
