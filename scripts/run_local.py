"""Run the whole app locally: web, stand-in APIs and worker, stopped together on Ctrl-C.

    python -m scripts.run_local        (or: make run)

Uses REDIS_URL when it answers, otherwise an embedded Redis under var/, and
SQLite unless DATABASE_URL is set. The stand-in Moves and Open Humans servers
(the sandbox) run as their own process with their own settings and database
(``manage.py run_sandbox``, SANDBOX_DATABASE_URL or var/sandbox.sqlite3) at
the root of http://localhost:PORT+1/, so the app is configured exactly as in
production but for its three base URLs, and a slow stand-in never holds up
the app's request threads. They are reached as ``localhost`` while the app
is ``127.0.0.1``: browsers keep cookies per host name, so the two never
share a session cookie. The stand-ins send Moves notifications and Open
Humans' deauthorisation webhook to the app.
"""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from honcho.manager import Manager

from scripts.local_redis import embedded_redis, redis_answers

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SANDBOX_SETTINGS = "sandbox.settings"

# Demo values the caller's environment may override.
DEMO_DEFAULTS = {
    "OH_CLIENT_ID": "local-oh-client",
    "OH_CLIENT_SECRET": "local-oh-secret",
    "OH_WEBHOOK_SECRET": "local-webhook-secret",
    "MOVES_CLIENT_ID": "local-moves-client",
    "MOVES_CLIENT_SECRET": "local-moves-secret",
    # 30 turns Moves' 60 per minute into 60 per 2 s, so a two-year backfill
    # visibly progresses in seconds rather than hours.
    "RATE_LIMIT_TIME_SCALE": "30",
    "SANDBOX_HISTORY_DAYS": "730",
    "LOG_LEVEL": "INFO",
}


def demo_environment(port: int, redis_url: str) -> dict[str, str]:
    """The environment every process of a local run gets."""
    app = f"http://127.0.0.1:{port}"
    sandbox = f"http://localhost:{port + 1}"
    env = {**DEMO_DEFAULTS, **os.environ}
    # These wire the processes together, so they win over the caller's values.
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "demotemplate.settings",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "true",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "REDIS_URL": redis_url,
            "APP_BASE_URL": app,
            "OH_REDIRECT_URI": f"{app}/complete/",
            "MOVES_REDIRECT_URI": f"{app}/moves_complete/",
            "OH_BASE_URL": sandbox,
            "MOVES_API_BASE_URL": f"{sandbox}/api/1.1",
            "MOVES_OAUTH_BASE_URL": f"{sandbox}/oauth/v1",
            "SANDBOX_MOVES_NOTIFICATION_URL": f"{app}/webhooks/moves/storyline/",
            "SANDBOX_OH_WEBHOOK_URL": f"{app}/webhooks/open-humans/deauthorize/",
        }
    )
    return env


@contextlib.contextmanager
def local_redis() -> Iterator[str]:
    """The caller's REDIS_URL when it answers, else an embedded server for this run."""
    configured = os.environ.get("REDIS_URL")
    if configured and redis_answers(configured):
        print(f"Using Redis at {configured}")
        yield configured
        return
    with embedded_redis(BASE_DIR / "var" / "redis") as url:
        print(f"Started an embedded Redis at {url} (data in var/redis/)")
        yield url


def processes(port: int) -> dict[str, str]:
    """Name -> shell command of every long-running process."""
    manage = f"{PYTHON} manage.py"
    return {
        "web": f"{manage} runserver 127.0.0.1:{port} --noreload",
        "sandbox": f"{manage} run_sandbox --settings {SANDBOX_SETTINGS} --host 127.0.0.1 --port {port + 1}",
        "worker": f"{PYTHON} -m celery -A datauploader worker --loglevel=info --concurrency=2 --pool=prefork",
    }


def banner(port: int) -> str:
    return (
        "\n"
        f"  Open http://127.0.0.1:{port}/ and sign in: the stand-in Open Humans and Moves\n"
        f"  (http://localhost:{port + 1}/) ask you to approve, then the worker\n"
        "  fetches the sandbox history and the dashboard shows the file as it grows.\n"
        "  Press Ctrl-C to stop everything.\n"
    )


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    with local_redis() as redis_url:
        env = demo_environment(port, redis_url)
        for settings_module in ("demotemplate.settings", SANDBOX_SETTINGS):
            migrate = subprocess.run(  # noqa: S603 - a fixed command
                [PYTHON, "manage.py", "migrate", "--noinput", "--settings", settings_module],
                cwd=BASE_DIR,
                env=env,
            )
            if migrate.returncode:
                return migrate.returncode
        print(banner(port), flush=True)
        # honcho starts each process in its own process group, stops them all
        # on SIGINT/SIGTERM or when one exits (SIGKILL after 5 s) and waits.
        manager = Manager()
        for name, command in processes(port).items():
            manager.add_process(name, command, env=env, cwd=str(BASE_DIR))
        manager.loop()
        return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
