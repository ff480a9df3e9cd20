"""HTTP mode's ``POST /slack/events``: the signature is checked before the body is read as data.

Bolt's own aiohttp server (``AsyncApp.web_app``) builds its request object, which
parses the body as JSON or a form, before its verification middleware runs: an
unsigned POST with a body that is not JSON made Bolt raise, answer 500 and log a
30-line traceback, for every such request anyone on the network cared to send.

Here the raw bytes are checked first with slack_sdk's :class:`SignatureVerifier`
(the check Bolt's middleware makes: HMAC-SHA256 of ``v0:<timestamp>:<body>`` with
the signing secret, timestamp within five minutes). Anything that fails gets 401
and one INFO line; only a signed request is parsed and dispatched to the Bolt app,
whose middleware then checks it again. A signed body Bolt cannot parse gets 400.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
# Slack's own requests are small; a slash command or a button click is a few kB.
MAX_BODY_BYTES = 1024 * 1024


def is_signed_by_slack(verifier: SignatureVerifier, body: bytes, request: web.Request) -> bool:
    """True when ``body`` carries a valid, fresh signature made with the signing secret."""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER)
    if not timestamp.isdigit() or not signature:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False  # Slack signs UTF-8 text; these bytes cannot carry its signature
    return verifier.is_valid(body=text, timestamp=timestamp, signature=signature)


def events_app(bolt_app: AsyncApp, signing_secret: str, path: str) -> web.Application:
    """An aiohttp application serving ``POST path`` for ``bolt_app``, signatures first."""
    verifier = SignatureVerifier(signing_secret)

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        if not is_signed_by_slack(verifier, body, request):
            log.info(
                "Slack HTTP: refused a request without a valid signature from %s", request.remote
            )
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"),
                query=request.query_string,
                headers=dict(request.headers),
            )
        except Exception as error:  # signed, yet not a form or JSON that Bolt understands
            log.info("Slack HTTP: a signed request could not be read (%s)", type(error).__name__)
            return web.json_response({"error": "invalid request body"}, status=400)
        return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.add_routes([web.post(path, events)])
    return app
