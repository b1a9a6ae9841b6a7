"""Settings for the Open Humans uploader for Moves.

Every value comes from the environment (see README.md for the table), read
through the typed helpers in ``demotemplate.env``. Application code reads
``django.conf.settings``, never ``os.environ``.
"""

import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import dj_database_url
import django_stubs_ext
import xstatic.pkg.leaflet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from demotemplate.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Lets ModelAdmin[Model] and QuerySet[Model], which the type checker needs, run.
django_stubs_ext.monkeypatch()

# --- Core -----------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
APP_BASE_URL = env_str("APP_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "open_humans",
    "core",
    "main",
    "datauploader",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "demotemplate.urls"
WSGI_APPLICATION = "demotemplate.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Leaflet comes from the XStatic-Leaflet package and is served by whitenoise, no CDN.
STATICFILES_DIRS = [("leaflet", xstatic.pkg.leaflet.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "/"

# --- Security (production defaults; see README "Security") ---------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading commits every subdomain to HTTPS for good and cannot be undone
# quickly; it stays an explicit opt-in, so its reminder is silenced until then.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Fernet keys (comma separated, newest first) that encrypt OAuth tokens at
# rest. In DEBUG a fixed development key is used when none is given.
TOKEN_ENCRYPTION_KEYS = env_list("TOKEN_ENCRYPTION_KEYS")
if not TOKEN_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off.")
    TOKEN_ENCRYPTION_KEYS = ["ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U="]

# --- Redis and Celery -------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# At-least-once delivery: a task is acknowledged only after it finished, so a
# worker that dies mid-task hands it back; every task is safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Redis hands an unacknowledged task to another worker after this long, so it
# must exceed the hard time limit (a task still running would run twice).
# Recovery from a dead worker does not wait for it: the member's lease runs
# out within RUN_LEASE_SECONDS and the dispatcher queues a fresh run; the old
# message, when it comes back, finds its batch expired and ends at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 60 * 60, minimum=60),
    # A Redis that stops answering but keeps the connection open (frozen,
    # failed over, cut off by a firewall) would otherwise hold a command, and
    # the worker's main loop with it, for good; celery 5.6.3 puts no limit of
    # its own on closing a broken connection.
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Losing Redis must never end the worker (under `make run` that stops every
# process): retry for as long as the outage lasts, not 100 times (about 45
# minutes) and then exit.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the connection drops finishes rather than being killed:
# when Redis comes back empty its message is gone, so killing it would lose
# the work; a message that does come back only reruns a task that is safe to
# run twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Open Humans --------------------------------------------------------------

OH_BASE_URL = env_str("OH_BASE_URL", "https://www.openhumans.org").rstrip("/")
OH_CLIENT_ID = env_str("OH_CLIENT_ID")
OH_CLIENT_SECRET = env_str("OH_CLIENT_SECRET")
OH_ACTIVITY_PAGE = env_str("OH_ACTIVITY_PAGE", "https://www.openhumans.org/activity/moves-connector/")
OH_REDIRECT_URI = env_str("OH_REDIRECT_URI", urljoin(APP_BASE_URL + "/", "complete/"))
# Shared secret of the deauthorisation webhook; without one the webhook
# refuses every request.
OH_WEBHOOK_SECRET = env_str("OH_WEBHOOK_SECRET")
# This project's own source label on Open Humans (direct-sharing-<id>); asked
# of Open Humans itself when empty (core/source.py).
OH_SOURCE_LABEL = env_str("OH_SOURCE_LABEL")

# --- Moves -----------------------------------------------------------------

MOVES_CLIENT_ID = env_str("MOVES_CLIENT_ID")
MOVES_CLIENT_SECRET = env_str("MOVES_CLIENT_SECRET")
MOVES_REDIRECT_URI = env_str("MOVES_REDIRECT_URI", urljoin(APP_BASE_URL + "/", "moves_complete/"))
MOVES_API_BASE_URL = env_str("MOVES_API_BASE_URL", "https://api.moves-app.com/api/1.1").rstrip("/")
MOVES_OAUTH_BASE_URL = env_str("MOVES_OAUTH_BASE_URL", "https://api.moves-app.com/oauth/v1").rstrip("/")

# --- Upstream HTTP ------------------------------------------------------------

HTTP_CONNECT_TIMEOUT = env_float("HTTP_CONNECT_TIMEOUT", 5.0, minimum=0.1)
HTTP_READ_TIMEOUT = env_float("HTTP_READ_TIMEOUT", 60.0, minimum=0.1)
# Answers larger than these are refused rather than held (a week of Moves
# data is about 200 KB; five years of history about 50 MB).
MOVES_MAX_ANSWER_BYTES = env_int("MOVES_MAX_ANSWER_BYTES", 64 * 1024 * 1024, minimum=1024)
OH_MAX_FILE_BYTES = env_int("OH_MAX_FILE_BYTES", 1024 * 1024 * 1024, minimum=1024)

# --- Rate limits -----------------------------------------------------------
# Moves counts requests per client app in fixed clock windows (minute and
# hour, by its own clock), so one quota is shared by every member and every
# worker (apiclients.quota). RATE_LIMIT_TIME_SCALE divides every time of the
# sync (quota windows, retry backoff, upload interval, leases) for demos,
# tests and benchmarks: 30 means 60 requests per 2 s.

MOVES_REQUESTS_PER_MINUTE = env_int("MOVES_REQUESTS_PER_MINUTE", 60, minimum=1)
MOVES_REQUESTS_PER_HOUR = env_int("MOVES_REQUESTS_PER_HOUR", 2000, minimum=1)
RATE_LIMIT_TIME_SCALE = env_float("RATE_LIMIT_TIME_SCALE", 1.0, minimum=0.001)
RATE_LIMIT_SAFETY_THRESHOLD = env_int("RATE_LIMIT_SAFETY_THRESHOLD", 1, minimum=0)

# --- Application behaviour -------------------------------------------------------

MANUAL_UPDATE_INTERVAL_SECONDS = env_int("MANUAL_UPDATE_INTERVAL_SECONDS", 3600, minimum=0)
# update_data (daily) refreshes members whose data is older than this.
UPDATE_STALE_AFTER_HOURS = env_int("UPDATE_STALE_AFTER_HOURS", 20, minimum=0)
SWEEP_INTERVAL_DAYS = env_int("SWEEP_INTERVAL_DAYS", 7, minimum=1)
# During a backfill the file on Open Humans is replaced at most this often.
UPLOAD_INTERVAL_SECONDS = env_int("UPLOAD_INTERVAL_SECONDS", 15 * 60, minimum=0)
# The retry policy (core/retry.py).
RETRY_BACKOFF_SECONDS = env_float("RETRY_BACKOFF_SECONDS", 30.0, minimum=0)
RETRY_MAX_FAILURES = env_int("RETRY_MAX_FAILURES", 5, minimum=1)
FAILING_RETRY_SECONDS = env_int("FAILING_RETRY_SECONDS", 6 * 3600, minimum=1)
# A run holds its member for this long, extended every third of it while it
# lives; a killed run's member is free again within this time.
RUN_LEASE_SECONDS = env_float("RUN_LEASE_SECONDS", 90.0 / RATE_LIMIT_TIME_SCALE, minimum=1)
# This worker machine's name: its own queue is history.<name> (Heroku's DYNO
# names are stable across restarts).
WORKER_NAME = env_str("WORKER_NAME", env_str("DYNO", socket.gethostname()))
DATA_WORK_DIR = Path(env_str("DATA_WORK_DIR", str(BASE_DIR / "var" / "work")))
# Webhook deliveries older than this are refused; replays within it are recognised.
WEBHOOK_MAX_AGE_SECONDS = env_int("WEBHOOK_MAX_AGE_SECONDS", 15 * 60, minimum=1)
MOVES_FILE_NAME = "moves-storyline-data.json"
MOVES_FILE_DESCRIPTION = "Moves GPS history: daily storyline with places, moves, activities and track points."
MOVES_FILE_TAGS = ["GPS", "Moves", "steps"]
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")


def _tile_origin(url: str) -> list[str]:
    """The origin the map tiles come from, for the CSP ("{s}." subdomains become a wildcard)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return []
    return [f"{parts.scheme}://{parts.netloc.replace('{s}.', '*.')}"]


# --- Content-Security-Policy (django-csp) -----------------------------------------
# Every script and style comes from our own static files: no inline script,
# no style attribute, nothing from a CDN. Leaflet sets its positions through
# the DOM (allowed) and needs data: images; tiles come from MAP_TILE_URL's origin.

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *_tile_origin(MAP_TILE_URL)],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logging -------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "demotemplate.logging_filters.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's development server logs each request line (with its query
    # string) through a handler of its own; send it through ours instead.
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# --- Sandbox: the stand-in Moves and Open Humans servers -----------------------
# They run as their own process with their own settings (sandbox.settings,
# python manage.py run_sandbox); these values are read there and by the tests.
# History given to each new sandbox Moves user: days of data ending today.
SANDBOX_HISTORY_DAYS = env_int("SANDBOX_HISTORY_DAYS", 120, minimum=1)
# The limits the stand-in Moves server enforces (windows scaled by RATE_LIMIT_TIME_SCALE).
SANDBOX_MOVES_REQUESTS_PER_MINUTE = env_int("SANDBOX_MOVES_REQUESTS_PER_MINUTE", 60, minimum=1)
SANDBOX_MOVES_REQUESTS_PER_HOUR = env_int("SANDBOX_MOVES_REQUESTS_PER_HOUR", 2000, minimum=1)
SANDBOX_STORAGE_DIR = Path(env_str("SANDBOX_STORAGE_DIR", str(BASE_DIR / "var" / "sandbox-files")))
# Where the stand-ins send Moves storyline notifications and Open Humans'
# deauthorisation webhook (empty: nowhere); updates within the batch period
# (seconds, scaled by RATE_LIMIT_TIME_SCALE) go out in one notification.
SANDBOX_MOVES_NOTIFICATION_URL = env_str(
    "SANDBOX_MOVES_NOTIFICATION_URL", APP_BASE_URL + "/webhooks/moves/storyline/"
)
SANDBOX_OH_WEBHOOK_URL = env_str(
    "SANDBOX_OH_WEBHOOK_URL", APP_BASE_URL + "/webhooks/open-humans/deauthorize/"
)
SANDBOX_NOTIFICATION_BATCH_SECONDS = env_float("SANDBOX_NOTIFICATION_BATCH_SECONDS", 30.0, minimum=0)
# A Redis hash that counts what reaches the stand-ins (the benchmark reads it); empty: no counting.
SANDBOX_REQUEST_COUNTS_KEY = env_str("SANDBOX_REQUEST_COUNTS_KEY")
