from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gunicorn
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from gunicorn.http.body import Body

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class LargeReads:
    """gunicorn's wsgi.input, read in the sizes asked for.

    gunicorn before 27 assembles every wsgi.input.read(n) from 1 KiB pieces, re-buffering the
    rest of each socket read on every turn (gunicorn issue #2596, fixed in gunicorn 27): 0.4
    ms for a log-batch body of 110 kB, 0.07 ms read from the body's reader, which hands back
    as much as it is asked for; and half the speed of a large artifact upload. gunicorn stays
    below 27 because mlflow 3.17.2, which the tests and the benchmark's reference server
    install next to the portal, requires gunicorn < 27. A read with a size goes to the reader
    unless a readline() left bytes in the body's own buffer; everything else goes to the body.
    """

    def __init__(self, body: Body) -> None:
        self.body = body

    def read(self, size: int | None = None) -> bytes:
        if size is not None and size >= 0 and self.body.buf.tell() == 0:
            return self.body.reader.read(size)
        return self.body.read(size)

    def readline(self, size: int | None = None) -> bytes:
        return self.body.readline(size)

    def readlines(self, size: int | None = None) -> list[bytes]:
        return self.body.readlines(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)


Application = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def large_reads(app: Application) -> Application:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if isinstance(environ.get("wsgi.input"), Body):
            environ["wsgi.input"] = LargeReads(environ["wsgi.input"])
        return app(environ, start_response)

    return application


application = get_wsgi_application()
if gunicorn.version_info < (27,):
    application = large_reads(application)

# Load every view module now, then move what start-up allocated (Django, numpy, plotly: about
# a million objects) out of the collector's sight. Otherwise the full collections that
# request garbage triggers rescan all of it: 40 ms every other search_runs of 1,000 runs.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
