"""The pages a person signs in and out with, sets a password on, and joins an organization through.

They stay plain (labelled fields, one form each); the look is ``base.html``'s. Every form
carries the CSRF token; every answer about an account is the same whether the e-mail exists.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from aloft.extensions import db
from aloft.people import audit, invites, signin_limits
from aloft.people.accounts import (
    TOO_MANY_ATTEMPTS,
    SignInRefused,
    authenticate,
    create_user,
    find_user,
    set_password,
)
from aloft.people.links import find_link, use_link
from aloft.people.passwords import WeakPassword
from aloft.people.resets import send_reset_link
from aloft.people.sessions import active_membership, end_session, start_session, switch_organization
from aloft.web.forms import local_path

bp = Blueprint("people", __name__, template_folder="templates")


def home_after_sign_in() -> str:
    """Where a person lands after signing in: the dashboard."""
    return url_for("web.dashboard")


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    return local_path(target) or home_after_sign_in()


@bp.route("/signin", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(home_after_sign_in())
        return render_template("sign_in.html", next=request.args.get("next"))
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")
    try:
        user = authenticate(email, password, request.remote_addr)
    except SignInRefused as refused:
        status = 429 if "Too many" in str(refused) else 401
        return render_template("sign_in.html", error=str(refused), email=email, next=request.form.get("next")), status
    start_session(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/signout")
def sign_out() -> ResponseReturnValue:
    membership = active_membership()
    if current_user.is_authenticated:
        audit.record("user.signed_out", membership.org_id if membership else None)
    end_session()
    return redirect(url_for("people.sign_in"))


@bp.post("/organization")
def switch() -> ResponseReturnValue:
    """Work in another organization of the signed-in person's (form field ``org_id``)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not switch_organization(request.form.get("org_id", "")):
        abort(404)
    return redirect(_safe_next(request.form.get("next")))


def _new_password_form(template_fields: dict, on_success) -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("set_password.html", **template_fields)
    password, confirm = request.form.get("password", ""), request.form.get("confirm", "")
    error = None
    if password != confirm:
        error = "The two passwords differ."
    else:
        try:
            return on_success(password)
        except WeakPassword as weak:
            db.session.rollback()
            error = str(weak)
    return render_template("set_password.html", error=error, name=request.form.get("name"), **template_fields), 400


def _invalid(advice: str) -> ResponseReturnValue:
    return render_template("link_invalid.html", advice=advice), 404


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str) -> ResponseReturnValue:
    """A first password, through the link ``aloft up`` or ``aloft users create`` prints."""
    return _password_link(
        "setup",
        token,
        action="user.password_changed",
        fields={"heading": "Set your password", "button": "Set password and sign in"},
        advice="`aloft users set-password EMAIL` sets a password on the server.",
    )


@bp.route("/reset", methods=["GET", "POST"])
def request_reset() -> ResponseReturnValue:
    by_email = current_app.extensions["aloft.settings"].smtp_configured
    if request.method == "GET" or not by_email:
        return render_template("request_reset.html", by_email=by_email)
    # Each request may send a message: it counts against the address's sign-in attempts.
    if not signin_limits.take_attempt(request.remote_addr):
        return render_template("request_reset.html", by_email=True, error=TOO_MANY_ATTEMPTS), 429
    send_reset_link(request.form.get("email", "")[:320])
    return render_template("request_reset.html", by_email=True, sent=True)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    """A new password, through the link the reset page mailed."""
    return _password_link(
        "reset",
        token,
        action="user.password_reset",
        fields={"heading": "Choose a new password", "button": "Set password and sign in"},
        advice="Ask for a new link on the reset page.",
    )


def _password_link(purpose: str, token: str, *, action: str, fields: dict, advice: str) -> ResponseReturnValue:
    """Set the password of the link's person, spend the link (once) and sign them in."""
    link = find_link(purpose, token)
    if link is None or link.user is None:
        return _invalid(advice)
    user = link.user

    def done(password: str) -> ResponseReturnValue:
        set_password(user, password, action=action)
        if not use_link(link):
            db.session.rollback()
            return _invalid(advice)
        db.session.commit()
        start_session(user)
        return redirect(home_after_sign_in())

    return _new_password_form({**fields, "email": user.email}, done)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> ResponseReturnValue:
    link = find_link("invite", token)
    if link is None or link.organization is None:
        return _invalid("Ask an admin of the organization for a new invitation.")
    organization, user = link.organization, find_user(link.email or "")
    if user is not None:
        fields = {"organization": organization.name, "role": link.role, "email": user.email}
        if request.method == "GET":
            return render_template("join.html", **fields)
        try:
            authenticate(user.email, request.form.get("password", ""), request.remote_addr)
        except SignInRefused as refused:
            return render_template("join.html", error=str(refused), **fields), 401
        if not invites.accept(link, user):
            return _invalid("")
        db.session.commit()
        start_session(user, organization.id)
        return redirect(home_after_sign_in())

    def done(password: str) -> ResponseReturnValue:
        new_user = create_user(link.email or "", request.form.get("name", "").strip()[:200])
        set_password(new_user, password, known_words=[organization.name])
        if not invites.accept(link, new_user):
            db.session.rollback()
            return _invalid("")
        db.session.commit()
        start_session(new_user, organization.id)
        return redirect(home_after_sign_in())

    fields = {
        "heading": f"Join {organization.name}",
        "intro": f"You are invited to {organization.name} as {link.role}. Choose a password to create your account.",
        "email": link.email,
        "button": "Create account and join",
        "ask_name": True,
    }
    return _new_password_form(fields, done)
