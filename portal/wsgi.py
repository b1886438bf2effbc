from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# The web server's requests: no statement runs longer than this (settings.py, PostgreSQL).
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "60000")

application = get_wsgi_application()

# Load every view module now, then move what start-up allocated (Django, numpy, plotly: about
# a million objects) out of the collector's sight. Otherwise the full collections that
# request garbage triggers rescan all of it: 40 ms every other search_runs of 1,000 runs.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
