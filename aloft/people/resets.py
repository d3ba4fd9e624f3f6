"""Password reset by e-mail: a one-time link valid for an hour, sent only to the account's own address.

Asking for one answers the same whether or not the e-mail has an account. Without SMTP the
reset page says to use ``aloft users set-password`` instead.
"""

from __future__ import annotations

from aloft.extensions import db
from aloft.people.accounts import find_user
from aloft.people.links import link_url, new_link, retire_links
from aloft.people.mail import send_mail


def send_reset_link(email: str) -> None:
    user = find_user(email)
    if user is None:
        return
    retire_links("reset", user_id=user.id)
    _link, token = new_link("reset", user=user)
    db.session.commit()
    send_mail(
        user.email,
        "Reset your password",
        "Someone (hopefully you) asked to reset the password of your Aloft account.\n\n"
        f"Choose a new password here (the link works once, for an hour):\n{link_url('reset', token)}\n\n"
        "If it was not you, ignore this message: your password stays as it is.\n",
    )
