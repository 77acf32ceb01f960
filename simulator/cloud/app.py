"""One request in, one response out: routing, injected faults and the request log.

Socket handling lives in `server.py`; this part has no I/O but the sleep of a
slow fault.
"""

from __future__ import annotations

import logging
import time

from simulator.cloud.api_routes import add_api_routes
from simulator.cloud.auth_routes import add_auth_routes
from simulator.cloud.control_routes import add_control_routes
from simulator.cloud.faults import Fault
from simulator.cloud.http import HttpError, Request, Response, error_response, oauth_error
from simulator.cloud.router import Router
from simulator.cloud.state import Cloud, RecordedRequest
from simulator.cloud.storage_routes import UPLOAD_PATH, add_storage_routes

MAX_BODY_BYTES = 64 * 1024 * 1024  # any request but an audio upload

log = logging.getLogger("simulator.cloud")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class CloudApp:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._yoto = Router()
        add_auth_routes(self._yoto, cloud)
        add_api_routes(self._yoto, cloud)
        add_storage_routes(self._yoto, cloud)
        self._control = Router()
        add_control_routes(self._control, cloud)

    def body_limit(self, method: str, path: str) -> int:
        """The largest body the server reads; an audio upload may be larger (its own cap, a setting, is the route's)."""
        if method == "PUT" and path.startswith(UPLOAD_PATH):
            return max(MAX_BODY_BYTES, int(self.cloud.config.max_audio_upload_bytes))
        return MAX_BODY_BYTES

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sim/"):
            return self._dispatch(self._control, req)
        fault = self.cloud.faults.take(req.method, req.path)
        if fault is not None and fault.after:
            response = self._dispatch(self._yoto, req)  # the work is done; only the answer goes wrong
            if fault.kind == "slow":
                time.sleep(fault.delay_s)
            else:
                response = self._fault_response(fault, req.path)
        else:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay_s)
                fault = None
            response = self._fault_response(fault, req.path) if fault else self._dispatch(self._yoto, req)
        self.cloud.record(
            RecordedRequest(
                method=req.method,
                path=req.path,
                query=req.query,
                headers=req.headers,
                body=req.body,
                status=0 if response.close else response.status,
                at=self.cloud.clock.now(),
            )
        )
        return response

    @staticmethod
    def _dispatch(router: Router, req: Request) -> Response:
        try:
            return router.dispatch(req)
        except HttpError as exc:
            return error_response(exc.status, exc.message, exc.headers)
        except Exception as exc:  # a simulator bug must answer, not kill the worker thread
            log.exception("simulator failed on %s %s", req.method, req.path)
            return error_response(500, f"simulator error: {exc!r}")

    @staticmethod
    def _fault_response(fault: Fault, path: str) -> Response:
        oauth = path.startswith("/oauth/")
        if fault.kind == "disconnect":
            return Response(0, close=True)
        if fault.kind == "rate_limit":
            headers = {"Retry-After": _seconds(fault.retry_after if fault.retry_after is not None else 1)}
            if oauth:
                response = oauth_error(429, "too_many_requests", "Too many requests (injected)")
                response.headers.update(headers)
                return response
            return error_response(429, "Too many requests (injected)", headers)
        if fault.kind == "unauthorized":
            if oauth:
                return oauth_error(401, "access_denied", "Unauthorized (injected)")
            return error_response(401, "Unauthorized (injected)", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        status = fault.status or 500
        if oauth:
            return oauth_error(status, "server_error", "Server error (injected)")
        return error_response(status, "Server error (injected)")
