"""A tracking server that does no work: it answers every request at once with the smallest
JSON the mlflow client accepts. Logging against it measures the client's own cost (the
ceiling a real server can only approach).

It runs in its own process (`python -m bench.null_server --port N`) so that it does not share
the client's interpreter lock. Standard library only: it must start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/api/2.0/mlflow/"


def _experiment(experiment_id: str = "1", name: str = "null") -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "name": name,
        "artifact_location": f"mlflow-artifacts:/{experiment_id}",
        "lifecycle_stage": "active",
    }


def _run(experiment_id: str = "1") -> dict[str, Any]:
    run_id = uuid.uuid4().hex
    return {
        "info": {
            "run_id": run_id,
            "run_uuid": run_id,
            "experiment_id": experiment_id,
            "run_name": "null-run",
            "user_id": "bench",
            "status": "RUNNING",
            "start_time": int(time.time() * 1000),
            "lifecycle_stage": "active",
            "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
        },
        "data": {},
    }


# Ready-made replies (path suffix -> JSON bytes), set with PUT /__bench/canned/<suffix>: the
# client's own cost of reading a large response, without any server work behind it.
CANNED_PREFIX = "/__bench/canned/"
_canned: dict[str, bytes] = {}
_canned_lock = threading.Lock()


def canned(path: str) -> bytes | None:
    route = path.split("?", 1)[0]
    with _canned_lock:
        for suffix, payload in _canned.items():
            if route.endswith(suffix):
                return payload
    return None


def answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request: the minimum the client parses, `{}` for everything else."""
    route = path.split("?", 1)[0]
    if route.endswith(API + "runs/create"):
        return {"run": _run(str(body.get("experiment_id") or "0"))}
    if route.endswith(API + "runs/get"):
        return {"run": _run()}
    if route.endswith(API + "experiments/create"):
        return {"experiment_id": "1"}
    if route.endswith((API + "experiments/get-by-name", API + "experiments/get")):
        return {"experiment": _experiment()}
    if route.endswith("/api/3.0/mlflow/server-info"):
        return {
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "artifacts_presigned_only": False,
            "workspaces_enabled": False,
        }
    return {}


class NullHandler(BaseHTTPRequestHandler):
    # Keep-alive, like the real servers: the client reuses its connection.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (flushed after each request): separate small writes
    # would meet the client's delayed ACK and cost 40 ms a request.
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith(CANNED_PREFIX):
            with _canned_lock:
                _canned[self.path.removeprefix(CANNED_PREFIX.rstrip("/"))] = raw
            payload = b"{}"
        elif (ready := canned(self.path)) is not None:
            payload = ready
        else:
            try:
                body = json.loads(raw) if raw.startswith(b"{") else {}
            except ValueError:
                body = {}
            payload = json.dumps(answer(self.path, body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), NullHandler)
    server.daemon_threads = True
    print(f"null server on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
