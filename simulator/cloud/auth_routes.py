"""The auth host's paths (YOTO_AUTH_URL): authorize, token, device code, activation page."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import parse_qsl

from simulator.cloud.http import HttpError, Request, Response, html_response, json_response, oauth_error, redirect
from simulator.cloud.oauth import AuthorizeRefused, OAuthError
from simulator.cloud.router import Router
from simulator.cloud.state import Cloud


def _params(req: Request) -> dict[str, str]:
    """Form or JSON parameters as strings; a body that is neither is an OAuth invalid_request."""
    try:
        body = req.form_or_json()
    except HttpError as exc:
        raise OAuthError(400, "invalid_request", exc.message) from exc
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in body.items()}


def add_auth_routes(router: Router, cloud: Cloud) -> None:
    def authorize(req: Request) -> Response:
        try:
            return redirect(cloud.tokens.authorize(req.query, cloud.login_account))
        except AuthorizeRefused as exc:
            return html_response(400, "Sign-in refused", f"<p>{escape(str(exc))}</p>")

    def token(req: Request) -> Response:
        try:
            return json_response(200, cloud.tokens.token(_params(req)), {"Cache-Control": "no-store"})
        except OAuthError as exc:
            return oauth_error(exc.status, exc.error, exc.description)

    def device_code(req: Request) -> Response:
        try:
            return json_response(200, cloud.tokens.start_device(_params(req)))
        except OAuthError as exc:
            return oauth_error(exc.status, exc.error, exc.description)

    def activate(req: Request) -> Response:
        """verification_uri(_complete): approves at once when it carries the code (auto consent)."""
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"))) if req.method == "POST" else {}
        code = req.query.get("user_code") or form.get("user_code", "")
        if not code:
            form = (
                "<form method='post'><label>Code <input name='user_code' autofocus></label>"
                "<button type='submit'>Connect</button></form>"
            )
            return html_response(200, "Connect a device", form)
        try:
            cloud.tokens.decide_device(code, cloud.login_account, approve=cloud.config.auto_consent)
        except ValueError as exc:
            return html_response(400, "Code not accepted", f"<p>{escape(str(exc))}</p>")
        if not cloud.config.auto_consent:
            return html_response(200, "Access denied", "<p>The device was not connected.</p>")
        return html_response(200, "Device connected", "<p>You can return to your device.</p>")

    router.add("GET", "/authorize", authorize)
    router.add("POST", "/oauth/token", token)
    router.add("POST", "/oauth/device/code", device_code)
    router.add("GET", "/activate", activate)
    router.add("POST", "/activate", activate)
