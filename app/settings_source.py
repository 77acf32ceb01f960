"""Where the HTTP middlewares read the settings from, per request.

They are added in `create_app()` before any setting is read (importing the
app must not build adapters or fail on a missing variable), and they must see
the same settings the routes see, which `app.deps.get_adapters()` hands out
(tests replace it with their own set). A middleware takes a `SettingsSource`
so a test can also hand it settings directly.
"""

from __future__ import annotations

from collections.abc import Callable

from core.settings import Settings

SettingsSource = Callable[[], Settings]


def app_settings() -> Settings:
    from app import deps  # looked up per call: tests patch deps.get_adapters

    return deps.get_adapters().settings
