"""Relay webhooks: Brevo and Mailjet post their bounce and complaint events here.

    POST /webhooks/brevo/<secret>        the secret in the path, or
    POST /webhooks/mailjet               with HTTP Basic (any user name, the secret as password)

The secret is the ``webhook_secret`` setting, compared in constant time; with no secret set
the URLs do not exist (404).  A wrong or missing secret gets a plain 401/403 and changes
nothing; a body that is not the relay's JSON gets 400.  Events are processed like returned
messages (see :mod:`letterpress.bounces.webhooks`), so a relay's retries are harmless.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, request

from ..bounces import WebhookPayloadError, process_webhook
from ..bounces.webhooks import RELAYS
from .app import web

__all__ = ["blueprint"]

blueprint = Blueprint("webhooks", __name__)
log = logging.getLogger("letterpress.web.webhooks")

_PLAIN = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def _refuse(status: int, text: str, **headers):
    return text + "\n", status, {**_PLAIN, **headers}


def _handle(relay: str, token: str | None):
    secret = web().project.settings.webhook_secret
    if not secret or relay not in RELAYS:
        abort(404)
    offered = token
    if offered is None and request.authorization is not None:
        offered = request.authorization.password or ""
    if offered is None:
        return _refuse(401, "authentication required",
                       **{"WWW-Authenticate": 'Basic realm="letterpress webhooks"'})
    if not hmac.compare_digest(offered.encode(), secret.encode()):
        log.warning("webhook %s refused: wrong secret from %s", relay, request.remote_addr)
        return _refuse(403, "forbidden")
    payload = request.get_json(silent=True)
    if payload is None:
        return _refuse(400, "expected a JSON body")
    project = web().project
    try:
        with project.session() as session:
            results = process_webhook(session, relay, payload, settings=project.settings,
                                      clock=project.clock)
    except WebhookPayloadError as exc:
        return _refuse(400, str(exc))
    done = sum(1 for r in results if not r.already)
    return f"ok: {done} event(s) recorded, {len(results) - done} already known\n", 200, _PLAIN


@blueprint.post("/webhooks/<relay>/<token>")
def with_token(relay: str, token: str):
    """The secret in the path."""
    return _handle(relay, token)


@blueprint.post("/webhooks/<relay>")
def with_basic_auth(relay: str):
    """The secret as the HTTP Basic password."""
    return _handle(relay, None)
