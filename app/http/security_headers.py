"""Security headers, set once here for every response (docs/security.md).

Two policies, chosen by what the response is:
- the API (JSON, audio, redirects, errors): nothing may load from it as a
  document, nothing may frame it, no Referer leaves it;
- HTML pages (the web UI, /api/docs): scripts, styles, fonts and fetches from
  our own origin only, no inline script or style, images also as data: and
  blob: URLs and from Yoto (icons, covers: `image_origins`),
  audio also from blob: URLs and from `STORAGE_ORIGINS` (where a presigned
  URL or a direct upload points on AWS).
User content (`/api/storage/...`, `/s/...`) always gets the API policy, whatever
its content type says. HSTS goes out on https only; a plain-http answer must
not pin a scheme the host may not serve. A header a route set itself wins.

The `Server` header is not ours to drop: uvicorn adds it below the app, so
`make run` passes `--no-server-header`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings_source import SettingsSource, app_settings
from core.settings import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000"
YOTO_IMAGES = "https://*.yotoplay.com"
USER_CONTENT_PREFIXES = ("/api/storage/", "/s/")

Header = tuple[bytes, bytes]


def image_origins(settings: Settings) -> list[str]:
    """Where the UI may show images from besides itself: Yoto's icons and card
    covers (their host is unverified, so any yotoplay.com host over https) and
    the configured Yoto API's own origin (the simulator serves its icons there)."""
    api = urlsplit(settings.yoto_api_url)
    own = f"{api.scheme}://{api.netloc}" if api.scheme and api.netloc else None
    covered = own is not None and api.scheme == "https" and api.netloc.endswith(".yotoplay.com")
    return [YOTO_IMAGES, *([own] if own and not covered else [])]


def ui_csp(storage_origins: list[str], images: list[str] | None = None) -> str:
    extra = "".join(f" {o.rstrip('/')}" for o in storage_origins)
    pictures = "".join(f" {o}" for o in images or [])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "font-src 'self'",
            f"img-src 'self' data: blob:{pictures}",
            f"media-src 'self' blob:{extra}",
            f"connect-src 'self'{extra}",
            "manifest-src 'self'",
            "base-uri 'none'",
            f"form-action 'self'{extra}",
            "frame-ancestors 'none'",
        ]
    )


def _headers(pairs: dict[str, str]) -> list[Header]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs.items()]


COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}
API_HEADERS = _headers({**COMMON, "content-security-policy": API_CSP, "referrer-policy": "no-referrer"})


def page_headers(storage_origins: list[str], images: list[str] | None = None) -> list[Header]:
    return _headers(
        {
            **COMMON,
            "content-security-policy": ui_csp(storage_origins, images),
            "referrer-policy": "strict-origin-when-cross-origin",
            "cross-origin-opener-policy": "same-origin",
        }
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: SettingsSource = app_settings) -> None:
        self.app = app
        self.settings = settings
        self._page: tuple[Settings, list[Header]] | None = None

    def _page_headers(self) -> list[Header]:
        try:
            settings = self.settings()
        except Exception:
            # Unusable settings already fail the request; its error page still gets
            # the page policy, without storage origins.
            return page_headers([])
        if self._page is None or self._page[0] is not settings:
            self._page = (settings, page_headers(settings.storage_origins, image_origins(settings)))
        return self._page[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        user_content = scope.get("path", "").startswith(USER_CONTENT_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 304:
                # A 304's headers replace the cached answer's: a policy here would
                # give the cached page the API's `default-src 'none'` (a 304 has no
                # type to tell a page by), and the reloaded page would run nothing.
                if https:
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"strict-transport-security", HSTS.encode())],
                    }
            elif message["type"] == "http.response.start":
                have = Headers(raw=message.get("headers", []))
                html = have.get("content-type", "").startswith("text/html")
                wanted = self._page_headers() if html and not user_content else API_HEADERS
                if https:
                    wanted = [*wanted, (b"strict-transport-security", HSTS.encode())]
                added = [(k, v) for k, v in wanted if k.decode() not in have]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: Starlette, settings: SettingsSource = app_settings) -> None:
    """Add it last in `create_app()`, so it is outermost and also marks the 500
    answer the request-context middleware sends."""
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
