"""Sending one delivery: claim it, hand it to its channel type, record how it went.

A delivery is claimed before it is sent (``claimed_until``, a lease longer than any send
may take), so two senders never send it at once: the one that loses the claim does
nothing. A sender that dies mid-send leaves its claim to expire; the sweeper then hands
the delivery to another, which sends it again (at least once, never lost). So does a
peer that answers after ``ALOFT_DELIVERY_TIMEOUT``: the attempt failed as far as Aloft
can tell, though the peer may have got the message, and it is retried.

A delivery that failed is not claimed again before its ``next_attempt_at``, however it is
handed out (a hand-out queued while it was due may run just after an attempt failed): the
backoff and a 429's ``Retry-After`` hold, and the scheduler's sweep hands it out again once
the wait is over.

Messages of one incident reach a channel in the order they were written (opened,
acknowledged, resolved): a delivery is not claimed while an earlier one of the same
incident to the same channel is pending (waiting for a retry, say), and the sender that
settles a delivery sends the one it held back next.

Outcomes: sent; a permanent error (the channel type says retrying cannot help) marks it
failed and flags the channel; any other error schedules a retry with exponential backoff
(at least the ``Retry-After`` a 429 asked for) until ``ALOFT_DELIVERY_ATTEMPTS`` is spent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import ColumnElement, exists, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from aloft.channels import ChannelTarget, DeliveryError, Notification
from aloft.config import Settings
from aloft.engine.statements import one_writer
from aloft.extensions import db
from aloft.models import Channel, Delivery, utcnow
from aloft.notify.channel_secrets import UnreadableSecret, unseal_config
from aloft.notify.channel_types import channel_type_instance

log = logging.getLogger(__name__)

#: The longest wait between two attempts.
MAX_RETRY_DELAY = timedelta(hours=1)
ERROR_LENGTH = Delivery.__table__.c.last_error.type.length


def retry_delay(attempt: int, first_delay_seconds: float) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1, 2, ...): doubling from the first delay, capped."""
    return min(timedelta(seconds=first_delay_seconds * 2 ** (attempt - 1)), MAX_RETRY_DELAY)


def lease(settings: Settings) -> timedelta:
    """How long a claim holds: well beyond one attempt's timeout, so a live sender is never overtaken."""
    return timedelta(seconds=3 * settings.delivery_timeout + 10)


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    attempt: int
    claimed_until: datetime


def claim(session: Session, delivery_id: str, settings: Settings, *, early: bool = False) -> Claim | None:
    """Take a pending delivery nobody holds (or whose holder's lease ran out) and that is due; counts an attempt.

    A first attempt is due at once (its ``next_attempt_at`` is when the sweeper takes over from
    its writer); a retry, from its ``next_attempt_at``. ``early=True`` takes a retry before then
    (the ``send_outbox`` test fixture).
    """
    now = utcnow()
    until = now + lease(settings)
    due = true() if early else or_(Delivery.attempts == 0, Delivery.next_attempt_at <= now)
    with one_writer(session):
        attempt = session.scalar(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == "pending",
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                due,
                first_in_line(),
            )
            .values(claimed_until=until, attempts=Delivery.attempts + 1)
            .returning(Delivery.attempts)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return None if attempt is None else Claim(delivery_id, attempt, until)


def deliver(app: Flask, delivery_id: str, *, retries: bool = True, early: bool = False) -> str | None:
    """Send the delivery if it is ours to send; returns its status afterwards (None: someone else
    has it, or its retry is not due yet).

    ``retries=False`` (a test message) fails at the first error instead of retrying;
    ``early=True`` sends a retry before it is due (see :func:`claim`).
    """
    settings: Settings = app.extensions["aloft.settings"]
    taken = claim(db.session, delivery_id, settings, early=early)
    if taken is None:
        return None
    status = send_claimed(app, taken, retries=retries)
    if status in ("sent", "failed") and (follower := held_back_by(db.session, delivery_id)) is not None:
        deliver(app, follower)
    return status


def first_in_line() -> ColumnElement[bool]:
    """No earlier delivery of the same incident to the same channel is pending: one of an incident's
    messages goes out only once those before it were sent or failed for good."""
    earlier = aliased(Delivery)
    return ~exists().where(
        earlier.channel_id == Delivery.channel_id,
        earlier.incident_id == Delivery.incident_id,
        earlier.status == "pending",
        earlier.created_at < Delivery.created_at,
    )


def held_back_by(session: Session, delivery_id: str) -> str | None:
    """The pending delivery of the same incident to the same channel that comes next after ``delivery_id``."""
    settled = aliased(Delivery)
    follower = session.scalar(
        select(Delivery.id)
        .join(settled, settled.id == delivery_id)
        .where(
            Delivery.channel_id == settled.channel_id,
            Delivery.incident_id == settled.incident_id,
            Delivery.status == "pending",
            Delivery.created_at > settled.created_at,
        )
        .order_by(Delivery.created_at, Delivery.id)
        .limit(1)
    )
    session.commit()
    return follower


def send_claimed(app: Flask, taken: Claim, *, retries: bool = True) -> str:
    settings: Settings = app.extensions["aloft.settings"]
    row = db.session.execute(
        select(Delivery.payload, Channel.id, Channel.name, Channel.type, Channel.config)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.id == taken.delivery_id)
    ).one_or_none()
    db.session.rollback()  # no transaction held open while the message goes out
    if row is None:  # the channel was deleted meanwhile, and its deliveries with it
        return "deleted"
    payload, channel_id, name, channel_type, config = row
    failure: DeliveryError | None = None
    try:
        instance = channel_type_instance(app, channel_type)
        config = unseal_config(settings.secret_key, config or {})
        instance.send(ChannelTarget(channel_id, name, channel_type, config), Notification.from_json(payload))
    except UnreadableSecret as error:
        failure = DeliveryError(str(error), permanent=True)
    except DeliveryError as error:
        failure = error
    except Exception as error:  # a plugin's bug: logged, retried like any transient failure
        log.exception("channel type %r raised while sending delivery %s", channel_type, taken.delivery_id)
        failure = DeliveryError(f"Internal error in the {channel_type} channel type: {type(error).__name__}")
    return _record(db.session, taken, channel_id, failure, settings, retries)


def _record(
    session: Session,
    taken: Claim,
    channel_id: str,
    failure: DeliveryError | None,
    settings: Settings,
    retries: bool,
) -> str:
    now = utcnow()
    values: dict[str, object] = {"claimed_until": None}
    flag: str | None = None
    if failure is None:
        values |= {"status": "sent", "sent_at": now}
        status = "sent"
    else:
        message = failure.message[:ERROR_LENGTH]
        values["last_error"] = message
        if failure.permanent or not retries or taken.attempt >= settings.delivery_attempts:
            status = "failed"
            values["status"] = status
            if failure.permanent:
                flag = message
            elif retries:
                values["last_error"] = f"Gave up after {taken.attempt} attempts: {message}"[:ERROR_LENGTH]
        else:
            status = "pending"
            wait = retry_delay(taken.attempt, settings.delivery_retry_seconds)
            if failure.retry_after is not None:
                wait = max(wait, timedelta(seconds=failure.retry_after))
            values["next_attempt_at"] = now + wait
        log.warning("delivery %s, attempt %d: %s (%s)", taken.delivery_id, taken.attempt, failure.message, status)
    with one_writer(session):
        # Only while the claim is still ours: a sender overtaken after its lease ran out writes nothing.
        session.execute(
            update(Delivery)
            .where(Delivery.id == taken.delivery_id, Delivery.claimed_until == taken.claimed_until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if failure is None or flag is not None:
            # A success shows the channel works again; a permanent failure shows it does not.
            session.execute(
                update(Channel)
                .where(Channel.id == channel_id)
                .values(disabled_reason=flag)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    return status


def due_deliveries(session: Session, limit: int = 500) -> list[str]:
    """Pending deliveries whose next attempt is due and that nobody holds: what the sweeper sends."""
    now = utcnow()
    ids = session.scalars(
        select(Delivery.id)
        .where(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            first_in_line(),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    ).all()
    session.commit()
    return list(ids)
