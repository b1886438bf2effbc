"""Upload request bodies, read whole or not at all, for the MLflow artifact proxy.

Django reads a request body through its own stream, which stops at Content-Length and
treats a body without one as empty. For uploads that is not enough:

- A client that goes away, or a network that breaks, mid-upload leaves a body shorter than
  its Content-Length; Django's stream just ends early, and the stored file would be cut short
  while the client is answered 200. UploadBody raises IncompleteUpload instead, and the
  storage keeps the previous file (storage.ArtifactStorage writes to a temporary file first).
- A chunked body (Transfer-Encoding: chunked, what `curl -T -` sends) would be stored empty.
  gunicorn decodes chunked bodies and says so with `wsgi.input_terminated`: UploadBody then
  reads the server's stream to its end. Where the server does not (Django's development
  server), a chunked upload is refused rather than stored empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.http import HttpRequest

from experiments.errors import InvalidInput
from experiments.services.artifacts import UPLOAD_CHUNK


class IncompleteUpload(InvalidInput):
    """The request body broke off, or was malformed, before its end; nothing was stored."""


class UploadBody:
    """The body of `request`, for storage.save(): read(size) hands out up to `size` bytes (a
    block when no size is given), and raises IncompleteUpload where the body ends before it
    should."""

    def __init__(self, request: HttpRequest) -> None:
        self.expected = _declared_length(request)
        self.received = 0
        stream = request.environ["wsgi.input"]
        if self.expected is None and not _chunked(request):
            self.expected = 0  # no length, no chunks: HTTP's empty body
        if self.expected is None and not request.environ.get("wsgi.input_terminated"):
            raise InvalidInput(
                "This server cannot read chunked uploads (Transfer-Encoding: chunked); "
                "send the file with a Content-Length header."
            )
        # A chunked body ends where the server's decoding ends; one with a length, where
        # Django's stream stops.
        self._read: Callable[[int], bytes] = stream.read if self.expected is None else request.read

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = UPLOAD_CHUNK
        if self.expected is not None:
            size = min(size, self.expected - self.received)
            if size == 0:
                return b""
        try:
            data = self._read(size)
        except Exception as error:  # the server's own errors: a broken or malformed body
            raise IncompleteUpload(
                f"The upload could not be read after {self.received} bytes "
                f"({type(error).__name__}); nothing was stored."
            ) from error
        if not data and self.expected is not None:
            raise IncompleteUpload(
                f"The upload ended after {self.received} of the {self.expected} bytes its "
                "Content-Length announced; nothing was stored."
            )
        self.received += len(data)
        return data

    def chunks(self, chunk_size: int = UPLOAD_CHUNK) -> Iterator[bytes]:
        while data := self.read(chunk_size):
            yield data


def _declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw is None or raw == "":
        return None
    try:
        length = int(raw)
    except ValueError:
        length = -1
    if length < 0:
        raise InvalidInput(f"Content-Length must be a number of bytes, not {raw!r}.")
    return length


def _chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
