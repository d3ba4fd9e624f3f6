"""The email channel type against a real SMTP server (aiosmtpd) with real certificates (trustme)."""

import email
import email.policy
from datetime import timedelta

import pytest
import trustme
from aloft_email import EmailChannel

from aloft.channels import ChannelTarget, DeliveryError
from aloft.testing import SAMPLE_STARTED, SmtpServer, sample_notification

STARTED = SAMPLE_STARTED
RECIPIENTS = ["ops@example.com", "oncall@example.com"]


def notification(kind="opened", name="Shop API", **fields):
    return sample_notification(kind, monitor_name=name, **fields)


def channel_type(port, mode="starttls", **environ):
    settings = {
        "ALOFT_SMTP_HOST": "127.0.0.1",
        "ALOFT_SMTP_PORT": str(port),
        "ALOFT_SMTP_TLS": mode,
        "ALOFT_SMTP_FROM": "aloft@example.com",
        "ALOFT_SMTP_USER": SmtpServer.USER,
        "ALOFT_SMTP_PASSWORD": SmtpServer.PASSWORD,
        **environ,
    }
    instance = EmailChannel(EmailChannel.load_server_settings(settings))
    instance.timeout = 5
    return instance


def send(smtp_port, event=None, mode="starttls", recipients=RECIPIENTS, **environ):
    target = ChannelTarget("c-1", "Ops mail", "email", {"to": recipients})
    channel_type(smtp_port, mode, **environ).send(target, event or notification())


def received(smtp):
    (envelope,) = smtp.envelopes
    return envelope, email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_one_message_goes_to_every_recipient_over_verified_tls(smtp):
    send(smtp.port, mode=smtp.mode)
    envelope, message = received(smtp)
    assert envelope.mail_from == "aloft@example.com" and envelope.rcpt_tos == RECIPIENTS
    assert smtp.tls_sessions == [True]
    assert message["Subject"] == "[Aloft] Shop API is down: HTTP 503"
    assert message["To"] == "ops@example.com, oncall@example.com"
    assert message["X-Aloft-Incident"] == "i-1"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Cause: HTTP 503" in plain and "Down since: 2027-01-15 08:00:00 UTC" in plain
    assert "https://aloft.example/monitors/m-1" in plain
    assert '<a href="https://aloft.example/monitors/m-1">' in html and "HTTP 503" in html


def test_a_resolved_message_says_how_long_it_was_down(smtp):
    resolved = STARTED + timedelta(hours=2, minutes=1)
    send(smtp.port, notification("resolved", at=resolved, resolved_at=resolved), mode=smtp.mode)
    _, message = received(smtp)
    assert message["Subject"] == "[Aloft] Shop API is up again after 2h 1m"
    assert "Down for: 2h 1m" in message.get_body(("plain",)).get_content()


def test_a_monitor_name_comes_out_literally_escaped_in_html_and_on_one_subject_line(smtp):
    send(smtp.port, notification(name="{{7*7}}<script>alert(1)</script>\nBcc: victim@example.com"), mode=smtp.mode)
    envelope, message = received(smtp)
    assert envelope.rcpt_tos == RECIPIENTS, "no header injected"
    assert message["Bcc"] is None
    assert message["Subject"].startswith("[Aloft] {{7*7}}<script>alert(1)</script> Bcc: victim@example.com is down")
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "{{7*7}}&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "49" not in html
    assert "{{7*7}}<script>alert(1)</script>" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_a_certificate_from_an_untrusted_authority_is_refused_and_nothing_is_sent(trusted_ca, mode):
    server = SmtpServer(trustme.CA(), mode=mode)
    try:
        with pytest.raises(DeliveryError) as raised:
            send(server.port, mode=mode)
    finally:
        server.stop()
    assert raised.value.permanent
    assert raised.value.message == "TLS: certificate signed by an unknown authority"
    assert server.envelopes == []


def test_a_certificate_for_another_name_is_refused(trusted_ca):
    server = SmtpServer(trusted_ca, name="mail.example.com")
    try:
        with pytest.raises(DeliveryError) as raised:
            send(server.port)
    finally:
        server.stop()
    assert raised.value.permanent and raised.value.message == "TLS: certificate is not valid for 127.0.0.1"


def test_without_verification_the_untrusted_certificate_is_accepted(trusted_ca):
    server = SmtpServer(trustme.CA())
    try:
        send(server.port, ALOFT_SMTP_VERIFY="false")
    finally:
        server.stop()
    assert len(server.envelopes) == 1


def test_a_refused_login_fails_for_good(smtp):
    with pytest.raises(DeliveryError) as raised:
        send(smtp.port, mode=smtp.mode, ALOFT_SMTP_PASSWORD="wrong")
    assert raised.value.permanent and raised.value.message.startswith("The SMTP server refused the login: 535")


def test_a_refused_recipient_fails_for_good(smtp):
    smtp.answers["RCPT"] = "550 5.1.1 No such user"
    with pytest.raises(DeliveryError) as raised:
        send(smtp.port, mode=smtp.mode)
    assert raised.value.permanent
    assert "ops@example.com: 550 5.1.1 No such user" in raised.value.message


def test_a_server_that_asks_to_come_back_later_is_retried(smtp):
    smtp.answers["DATA"] = "451 4.3.0 Try again later"
    with pytest.raises(DeliveryError) as raised:
        send(smtp.port, mode=smtp.mode)
    assert not raised.value.permanent and raised.value.message == "The SMTP server answered 451 4.3.0 Try again later"


def test_a_server_that_is_not_there_is_retried(closed_port):
    with pytest.raises(DeliveryError) as raised:
        send(closed_port)
    assert (raised.value.permanent, raised.value.message) == (False, "SMTP 127.0.0.1: Connection refused")
