"""Settings for the test suite: the real settings with test-only environment defaults.

The suite talks to a real Redis (a database of its own, flushed per test) and
to PostgreSQL when DATABASE_URL points there, SQLite otherwise.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("OH_CLIENT_ID", "test-oh-client")
os.environ.setdefault("OH_CLIENT_SECRET", "test-oh-secret")
os.environ.setdefault("MOVES_CLIENT_ID", "test-moves-client")
os.environ.setdefault("MOVES_CLIENT_SECRET", "test-moves-secret")
os.environ.setdefault("OH_WEBHOOK_SECRET", "test-webhook-secret-0123456789")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("HTTP_BACKOFF_BASE_SECONDS", "0")

from demotemplate.settings import *  # noqa: F403

# The stand-ins' models live in the test database too; tests/sandbox_server.py serves them.
INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F405

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite never runs collectstatic; without this whitenoise warns on every
# request that STATIC_ROOT is missing.
WHITENOISE_AUTOREFRESH = True
