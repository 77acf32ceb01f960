"""The fake Yoto cloud: OAuth (PKCE, device code, rotating refresh tokens), REST and test control.

Start one with `start_cloud()` (tests, `make demo`) or `python -m simulator`;
docs/simulator.md describes what it fakes and what is a guess.
"""

from simulator.cloud.config import API_AUDIENCE, DEFAULT_ACCOUNT, DEFAULT_CLIENT_ID, DEFAULT_SCOPE, CloudConfig
from simulator.cloud.devices import DEFAULT_DEVICES, FIRMWARE_DEFAULT_CONFIG
from simulator.cloud.faults import Fault
from simulator.cloud.remote import RemoteCloud, RemoteError
from simulator.cloud.running import RunningCloud, start_cloud
from simulator.cloud.state import RecordedRequest

__all__ = [
    "API_AUDIENCE",
    "DEFAULT_ACCOUNT",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_DEVICES",
    "DEFAULT_SCOPE",
    "FIRMWARE_DEFAULT_CONFIG",
    "CloudConfig",
    "Fault",
    "RecordedRequest",
    "RemoteCloud",
    "RemoteError",
    "RunningCloud",
    "start_cloud",
]
