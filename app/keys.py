"""The signing keys of an adapter set, derived once from its session secret.

The secret itself comes from `adapters.secret` (environment on AWS, a kept file
under the data dir locally), never from code.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from adapters import Adapters
from services.signing import Keys

_lock = threading.Lock()
# Keyed by the adapter set, so a new set (tests, a changed secret) gets fresh keys.
_keys: WeakKeyDictionary[Adapters, Keys] = WeakKeyDictionary()


def keys_for(adapters: Adapters) -> Keys:
    found = _keys.get(adapters)
    if found is not None:
        return found
    from adapters.secret import derive_key, session_secret

    with _lock:
        found = _keys.get(adapters)
        if found is None:
            secret = session_secret(adapters.settings)
            found = Keys(cookie=derive_key(secret, "cookie"), stream=derive_key(secret, "stream"))
            _keys[adapters] = found
    return found
