"""HTTP requests that reach the server exactly as written.

requests and urllib3 normalise URL paths (they drop `..` segments), which would hide exactly
the inputs an attacker sends; http.client puts the path on the request line unchanged.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """`method path` on the server at `base_url`, the path sent byte for byte as given."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
        # Sign in as the tracking client does (MLFLOW_TRACKING_TOKEN), unless told otherwise.
        if "Authorization" not in headers and os.environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body or b"")
        response = connection.getresponse()
        return RawResponse(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=response.read(),
        )
    finally:
        connection.close()


def send_then_close(
    base_url: str, path: str, *, headers: dict[str, str], body: bytes
) -> RawResponse:
    """A PUT of `path` whose body is `body` byte for byte, whatever `headers` announce (a
    Content-Length it does not reach, chunked framing), then the end of what the client
    sends, as when it goes away mid-upload."""
    parts = urlsplit(base_url)
    head = [f"PUT {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        head.append(f"Authorization: Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}")
    head += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall("\r\n".join([*head, "", ""]).encode() + body)
        sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock, method="PUT")
        response.begin()
        return RawResponse(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=response.read(),
        )


def assert_mlflow_error(response: RawResponse, status: int, error_code: str | None = None) -> None:
    """The response is MLflow's error body with the given status (and code, when given)."""
    assert response.status == status, (response.status, response.body[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    payload = response.json()
    assert set(payload) == {"error_code", "message"}, payload
    assert isinstance(payload["message"], str)
    assert payload["message"]
    if error_code is not None:
        assert payload["error_code"] == error_code, payload


def assert_client_error(response: RawResponse) -> None:
    """A 4xx answered with MLflow's error body, whichever 4xx it is."""
    assert 400 <= response.status < 500, (response.status, response.body[:500])
    assert_mlflow_error(response, response.status)
