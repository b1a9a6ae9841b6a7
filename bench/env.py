"""The environment every process of a benchmark run gets, and the settings each kind of process uses.

Three kinds of process share one database and one Redis database:

- the stand-ins, ``manage.py run_sandbox --settings=sandbox.settings`` with
  SANDBOX_DATABASE_URL pointing at the benchmark database (``sandbox_env``);
- the app (Celery workers, the web server for webhooks) on the project's own
  settings (``bench.app_settings``: static files without a manifest), as in
  production but for its three base URLs (``app_env``);
- the orchestrator, which seeds both sides and reads both sides' results, on
  ``bench.server_settings`` (the project's settings with the stand-ins'
  models installed); migrations run with it too, so one database holds the
  tables of both.
"""

import os
from pathlib import Path

from bench.counting import COUNTS_KEY

BENCH_OH_CLIENT = ("bench-oh-client", "bench-oh-secret")
BENCH_MOVES_CLIENT = ("bench-moves-client", "bench-moves-secret")
# Fixed so the benchmark never depends on the caller's secrets.
BENCH_FERNET_KEY = "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktMDA="
ORCHESTRATOR_SETTINGS = "bench.server_settings"
APP_SETTINGS = "bench.app_settings"
SANDBOX_SETTINGS = "sandbox.settings"


def bench_environment(
    *, base_url: str, scale: float, redis_url: str, database_url: str, work_dir: Path
) -> dict[str, str]:
    """Settings for the orchestrator; ``app_env`` and ``sandbox_env`` derive the others.

    Both sides read RATE_LIMIT_TIME_SCALE and the same limits, so the app's
    quota and the stand-in Moves server agree on every window. The
    stand-ins answer at the root of ``base_url``, so the app differs from
    production only in its three base URLs; they count what reaches them
    (``bench.counting``) and send no notifications unless a benchmark
    points them at a live app (``bench.notifications``).
    """
    sandbox = base_url.rstrip("/")
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": ORCHESTRATOR_SETTINGS,
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key",
            "TOKEN_ENCRYPTION_KEYS": BENCH_FERNET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "0",
            "APP_BASE_URL": base_url,
            "OH_CLIENT_ID": BENCH_OH_CLIENT[0],
            "OH_CLIENT_SECRET": BENCH_OH_CLIENT[1],
            "MOVES_CLIENT_ID": BENCH_MOVES_CLIENT[0],
            "MOVES_CLIENT_SECRET": BENCH_MOVES_CLIENT[1],
            "OH_BASE_URL": sandbox,
            "MOVES_API_BASE_URL": sandbox + "/api/1.1",
            "MOVES_OAUTH_BASE_URL": sandbox + "/oauth/v1",
            "RATE_LIMIT_TIME_SCALE": f"{scale:g}",
            "MOVES_REQUESTS_PER_MINUTE": "60",
            "MOVES_REQUESTS_PER_HOUR": "2000",
            "SANDBOX_MOVES_REQUESTS_PER_MINUTE": "60",
            "SANDBOX_MOVES_REQUESTS_PER_HOUR": "2000",
            "SANDBOX_STORAGE_DIR": str(work_dir / "sandbox-files"),
            "SANDBOX_REQUEST_COUNTS_KEY": COUNTS_KEY,
            "SANDBOX_MOVES_NOTIFICATION_URL": "",
            "SANDBOX_OH_WEBHOOK_URL": "",
            "DATA_WORK_DIR": str(work_dir / "worker"),
            "LOG_LEVEL": "WARNING",
            # whitenoise warns about the uncollected static directory in every process.
            "PYTHONWARNINGS": "ignore:No directory at",
        }
    )
    # The app's own defaults apply (RATE_LIMIT_SAFETY_THRESHOLD, UPLOAD_INTERVAL_SECONDS, the
    # lease), unless the caller set them.
    return env


def app_env(env: dict[str, str], **overrides: str) -> dict[str, str]:
    """The app's processes: the project's own settings."""
    return {**env, "DJANGO_SETTINGS_MODULE": APP_SETTINGS, **overrides}


def sandbox_env(env: dict[str, str], **overrides: str) -> dict[str, str]:
    """The stand-ins: their own settings, on the benchmark's database."""
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": SANDBOX_SETTINGS,
        "SANDBOX_DATABASE_URL": env["DATABASE_URL"],
        **overrides,
    }
