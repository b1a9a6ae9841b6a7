"""Settings of the stand-in server process: ``python manage.py run_sandbox --settings=sandbox.settings``.

The project's own settings (secrets, client ids, Redis, time scale and the
SANDBOX_* values) with only what the stand-ins need installed, their URLs at
the root, and a database of their own (SANDBOX_DATABASE_URL, by default a
SQLite file under var/). The app then differs from production only in its
three base URLs (see ``sandbox.testing.point_app_at_sandbox``).
"""

import dj_database_url

from demotemplate.env import env_int, env_str
from demotemplate.settings import *  # noqa: F403
from demotemplate.settings import BASE_DIR

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sandbox.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SANDBOX_DATABASE_URL = env_str("SANDBOX_DATABASE_URL")
if not SANDBOX_DATABASE_URL:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    SANDBOX_DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'sandbox.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        SANDBOX_DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    )
}
