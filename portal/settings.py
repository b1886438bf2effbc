"""Portal settings: everything that differs between machines comes from the environment.

The embedded default (no variables set) is a SQLite file and an artifact folder under ./var,
which is what `make run` uses. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and friends.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PRODUCTION = env_bool("PORTAL_PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "insecure-development-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or _DEV_SECRET
if SECRET_KEY == _DEV_SECRET and PRODUCTION:
    raise ImproperlyConfigured("SECRET_KEY must be set when PORTAL_PRODUCTION is on")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # log-metric and log-batch answered here where they can be (experiments/mlflow/middleware.py).
    "experiments.mlflow.middleware.LoggingLane",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # NUL in a page's or the portal API's path, query or form: 400 before any view.
    "experiments.middleware.RefuseNul",
    # Every page needs a signed-in user; the MLflow API and the portal API authenticate their
    # own callers (tokens) and are marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at BEGIN, so two
    # writers queue on the busy timeout instead of deadlocking on a lock upgrade.
    _db["CONN_MAX_AGE"] = 0 if _db["NAME"] == ":memory:" else _db["CONN_MAX_AGE"]
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            " PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("DB_BUSY_TIMEOUT", 20),
        }
    )
    _db.setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test-portal.sqlite3")
    # SQLite creates the file but not its folder (a fresh checkout has no ./var).
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # A stuck lock must not hold an API worker forever: the client retries the 503 it gets.
    # A statement running past DB_STATEMENT_TIMEOUT_MS is cancelled; portal/wsgi.py sets 60 s
    # for the web server, where gunicorn can kill a stuck worker but not the query it left
    # running. Migrations and the Celery worker's bulk deletes run without a limit (0).
    _server_options = f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 10000)}"
    if statement_timeout := env_int("DB_STATEMENT_TIMEOUT_MS", 0):
        _server_options += f" -c statement_timeout={statement_timeout}"
    _db.setdefault("OPTIONS", {}).setdefault("options", _server_options)
    _db["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
# The statements every MLflow call runs are prepared once per connection (PostgreSQL only;
# see experiments/prepared.py). Off behind a pooler in transaction mode, such as PgBouncer's.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery --------------------------------------------------------------------------
# With REDIS_URL unset, Celery queues through a folder (kombu's filesystem transport), so the
# embedded default (`make run`) runs background jobs with no other server installed.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "filesystem://localhost//"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0)
# A page that enqueues must answer quickly when the broker is down: the job row is already
# committed and the sweeper enqueues it later, so a short publish retry is enough.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_FILESYSTEM_DIR = Path(os.environ.get("CELERY_FILESYSTEM_DIR") or VAR_DIR / "celery")
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }

# --- Deletion jobs (see experiments/services/deletion.py) -----------------------------------
# Rows per DELETE statement of metric history; each is its own short transaction.
DELETION_METRIC_BATCH = env_int("DELETION_METRIC_BATCH", 10_000)
# Runs (with their params, tags, inputs) or experiments removed per transaction.
DELETION_ROW_BATCH = env_int("DELETION_ROW_BATCH", 500)
DELETION_FILE_BATCH = env_int("DELETION_FILE_BATCH", 1_000)
# One task invocation works this long, then re-enqueues itself (other jobs get a turn).
DELETION_STEP_SECONDS = env_float("DELETION_STEP_SECONDS", 5.0)
# A claimed step belongs to its worker this long; after that another worker may take it over.
DELETION_LEASE_SECONDS = env_float("DELETION_LEASE_SECONDS", 120.0)
# Pause between statements, to leave I/O to the live workload on a busy database.
DELETION_PAUSE_SECONDS = env_float("DELETION_PAUSE_SECONDS", 0.0)
# The sweeper's period, and how long an unfinished job may wait before it is enqueued again.
DELETION_SWEEP_SECONDS = env_float("DELETION_SWEEP_SECONDS", 30.0)
DELETION_REQUEUE_SECONDS = env_float("DELETION_REQUEUE_SECONDS", 300.0)
# Transient errors (database, storage) are retried this often, backing off 1, 2, 4 ... x factor.
DELETION_MAX_RETRIES = env_int("DELETION_MAX_RETRIES", 8)
DELETION_RETRY_BACKOFF = env_int("DELETION_RETRY_BACKOFF", 2)
DELETION_RETRY_BACKOFF_MAX = env_int("DELETION_RETRY_BACKOFF_MAX", 300)

# --- Artifacts, static files ----------------------------------------------------------------
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT") or VAR_DIR / "artifacts").resolve()
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Run and model artifacts; any Django storage backend with the same API can replace it.
    "artifacts": {
        "BACKEND": "experiments.storage.ArtifactStorage",
        "OPTIONS": {"location": str(ARTIFACT_ROOT)},
    },
}
# Artifact uploads are streamed; only the JSON API bodies are read into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)

# --- Internationalisation, auth -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # API keys first: a caller without credentials then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "experiments.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "experiments.api.pagination.PortalPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "experiments.api.views.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "experiments.api.schema.PortalAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Experiment portal API",
    "DESCRIPTION": (
        "Resource groups, workspaces, deletion jobs, the audit log, and tracking tokens for the "
        "mlflow client. Authenticate with a personal API key: `Authorization: Bearer <key>`. "
        "(The MLflow tracking API itself is served under each workspace's tracking URI.)"
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "experiments.choices.JobState",
        "ContainerStateEnum": "experiments.choices.ContainerState",
    },
}

# --- Security --------------------------------------------------------------------------------
# PORTAL_PRODUCTION=true turns on everything `manage.py check --deploy` asks for (HTTPS only,
# secure cookies, HSTS); each stays adjustable on its own. The embedded default (make run)
# serves plain HTTP on 127.0.0.1.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL", False) else None
)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "experiments:home"
LOGOUT_REDIRECT_URL = "login"

# Workspace tracking tokens (what the SDK hands to the mlflow client) live this long.
TRACKING_TOKEN_LIFETIME_SECONDS = env_int("TRACKING_TOKEN_LIFETIME_SECONDS", 3600)

# The public address of the portal, used in links it prints (mlflow_env). Empty means
# http://127.0.0.1:$PORT, which is what `make run` serves.
PORTAL_URL = os.environ.get("PORTAL_URL", "")
