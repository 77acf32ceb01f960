"""Interactive API docs (Swagger UI) served by the app itself.

FastAPI's own /docs page loads Swagger UI's script and stylesheet from a
public CDN without integrity checks, and starts it with an inline script that
a strict Content-Security-Policy forbids. Here the assets come from the
`swagger-ui-bundle-v2` package (Swagger UI's dist files, 5.x, which reads
OpenAPI 3.1) and the start-up code is a same-origin script, so the page
works under the UI policy of `app.http.security_headers` with nothing fetched from
elsewhere. ReDoc, which would need its own CDN script, is off.

The page is on when `Settings.api_docs_enabled` (API_DOCS; default on
locally, off when USE_AWS); off, it answers 404. The OpenAPI document itself
(`/api/openapi.json`) is always served: it is what the tests fuzz.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.settings_source import SettingsSource, app_settings

DOCS_PATH = "/api/docs"
ASSET_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
CACHE = {"Cache-Control": "public, max-age=3600"}

# Relative URLs: /api/docs resolves them under /api/, also behind a root path.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>yoto-smart-stream API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""

START_JS = """window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def swagger_dist() -> Path | None:
    """Swagger UI's dist folder, or None when the package is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def install_api_docs(app: FastAPI, settings: SettingsSource = app_settings) -> None:
    def require_docs() -> Path:
        if not settings().api_docs_enabled:
            raise HTTPException(404, "interactive API docs are off here (API_DOCS)")
        dist = swagger_dist()
        if dist is None:
            raise HTTPException(404, "interactive API docs need the swagger-ui-bundle-v2 package")
        return dist

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        require_docs()
        return HTMLResponse(PAGE)

    @app.get(DOCS_PATH + "/start.js", include_in_schema=False)
    async def docs_start() -> Response:
        require_docs()
        return Response(START_JS, media_type="text/javascript", headers=CACHE)

    @app.get(DOCS_PATH + "/{asset}", include_in_schema=False)
    async def docs_asset(asset: str) -> FileResponse:
        dist = require_docs()
        media_type = ASSET_MEDIA_TYPES.get(asset)
        if media_type is None:
            raise HTTPException(404, "Not Found")
        return FileResponse(dist / asset, media_type=media_type, headers=CACHE)
