"""A full run leaves no secret in any log: web, worker and stand-ins as separate processes.

The app is served by gunicorn with DEBUG off, a Celery worker (solo pool)
runs the sync, and ``run_sandbox`` serves both stand-ins and sends their
notifications and webhooks; each process has its own log file, a database
of its own (PostgreSQL when it answers, SQLite otherwise) and a Redis
server of its own. A person signs in, connects Moves through both consent
pages (driven with ``requests`` as a browser would), waits for the file,
edits a day (a signed notification arrives) and leaves the project (a
signed deauthorisation arrives). Then every log is searched for every
token and code the stand-ins issued and every secret the processes were
configured with.

The static files are served without a manifest (nothing was collected):
only the storage setting differs from production. Every process logs at
DEBUG, the most an operator would switch on. OAuth ``state`` values are not
searched for: they appear in the stand-ins' own request lines, as in the
real servers' access logs, and are worthless once used.
"""

import contextlib
import html
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://postgres@127.0.0.1:5432"
# Moves' minute is 2 s, so a run waiting for quota waits seconds, not a minute.
TIME_SCALE = "30"
HISTORY_DAYS = 20
# Of the settings the processes get, those that are secrets (client ids are not).
SECRET_SETTINGS = (
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEYS",
    "OH_CLIENT_SECRET",
    "OH_WEBHOOK_SECRET",
    "MOVES_CLIENT_SECRET",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {seconds:.0f} s")


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2, allow_redirects=False).status_code < 500
    except requests.RequestException:
        return False


@contextlib.contextmanager
def app_database(work_dir: Path) -> Iterator[str]:
    """A fresh database for the app: PostgreSQL when it answers (dropped afterwards), else a SQLite file."""
    name = f"fullrun_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        yield f"sqlite:///{work_dir / 'app.sqlite3'}"
        return
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Long-running processes of the run, each logging to a file; all stopped at the end, whatever happens."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Path:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            self.running[name] = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return log

    def check_alive(self) -> None:
        dead = {
            name: process.returncode for name, process in self.running.items() if process.poll() is not None
        }
        assert dead == {}, f"processes ended early: {dead}; see {self.log_dir}"

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def run_once(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def consent(browser: requests.Session, page: requests.Response, **fields: str) -> requests.Response:
    """Answer a stand-in's consent page with ``fields``, following every redirect."""
    assert page.status_code == 200, page.text[:300]
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    form.update(csrfmiddlewaretoken=_CSRF.search(page.text).group(1), **fields)
    return browser.post(page.url, data=form, headers={"Referer": page.url}, timeout=30)


def control(browser: requests.Session, sandbox: str, **fields: str) -> str:
    """Use the stand-ins' control page as a person at the sandbox would; returns the page it answers."""
    page = browser.get(sandbox + "/", timeout=10)
    done = browser.post(
        sandbox + "/",
        data={"csrfmiddlewaretoken": _CSRF.search(page.text).group(1), **fields},
        headers={"Referer": sandbox + "/"},
        timeout=10,
    )
    assert done.status_code == 200, done.text[:300]
    return done.text


def issued_secrets(sandbox_db: Path) -> list[str]:
    """Every token and code the stand-ins issued (read from their own database)."""
    with contextlib.closing(sqlite3.connect(sandbox_db)) as db:
        found = []
        for table in ("sandbox_movestoken", "sandbox_ohtoken"):
            for access, refresh in db.execute(f"SELECT access_token, refresh_token FROM {table}"):  # noqa: S608
                found += [access, refresh]
        for table in ("sandbox_movesauthcode", "sandbox_ohauthcode"):
            found += [code for (code,) in db.execute(f"SELECT code FROM {table}")]  # noqa: S608
        return found


@dataclass
class FullRun:
    logs: dict[str, str]
    issued: list[str]
    configured: dict[str, str]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> "FullRun":
    """One full run for the module's tests; its processes are stopped before any test reads the logs."""
    tmp_path = tmp_path_factory.mktemp("full-run")
    logs = tmp_path / "logs"
    logs.mkdir()
    redis_port, app_port, sandbox_port = free_port(), free_port(), free_port()
    app = f"http://127.0.0.1:{app_port}"
    # Another host name than the app's: a browser keeps the two sites' cookies apart.
    sandbox = f"http://localhost:{sandbox_port}"
    configured = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "OH_CLIENT_ID": "fullrun-oh-client",
        "OH_CLIENT_SECRET": "oh-secret-" + secrets.token_hex(16),
        "OH_WEBHOOK_SECRET": "webhook-secret-" + secrets.token_hex(16),
        "MOVES_CLIENT_ID": "fullrun-moves-client",
        "MOVES_CLIENT_SECRET": "moves-secret-" + secrets.token_hex(16),
    }
    (tmp_path / "fullrun_settings.py").write_text(
        "from demotemplate.settings import *\n"
        "from demotemplate.settings import STORAGES\n"
        "STORAGES = {**STORAGES, 'staticfiles': "
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}\n"
    )
    sandbox_db = tmp_path / "sandbox.sqlite3"
    processes = Processes(logs)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(processes.stop_all)
        processes.start(
            "redis",
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(tmp_path)],
            {"PATH": os.environ.get("PATH", "")},
        )  # fmt: skip
        broker = redis.Redis(port=redis_port, socket_connect_timeout=1)
        wait_for(lambda: _pings(broker), 10, "redis-server")
        database_url = cleanup.enter_context(app_database(tmp_path))
        # Stopped before the database is dropped (and again at the end, which then does nothing).
        cleanup.callback(processes.stop_all)
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
            "PYTHONUNBUFFERED": "1",
            **configured,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "DEBUG",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "RATE_LIMIT_TIME_SCALE": TIME_SCALE,
            "APP_BASE_URL": app,
            "OH_BASE_URL": sandbox,
            "MOVES_API_BASE_URL": f"{sandbox}/api/1.1",
            "MOVES_OAUTH_BASE_URL": f"{sandbox}/oauth/v1",
        }
        app_env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "fullrun_settings",
            "DATABASE_URL": database_url,
            "DATA_WORK_DIR": str(tmp_path / "work"),
            "WORKER_NAME": "fullrun",
        }
        sandbox_env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
            "SANDBOX_DATABASE_URL": f"sqlite:///{sandbox_db}",
            "SANDBOX_STORAGE_DIR": str(tmp_path / "sandbox-files"),
            "SANDBOX_MOVES_NOTIFICATION_URL": f"{app}/webhooks/moves/storyline/",
            "SANDBOX_OH_WEBHOOK_URL": f"{app}/webhooks/open-humans/deauthorize/",
            "SANDBOX_NOTIFICATION_BATCH_SECONDS": "3",
        }
        migrations = [
            run_once([sys.executable, "manage.py", "migrate", "--noinput"], app_env, logs / "migrate.log"),
            run_once(
                [sys.executable, "manage.py", "migrate", "--noinput"], sandbox_env, logs / "migrate.log"
            ),
        ]
        assert [migration.wait(timeout=120) for migration in migrations] == [0, 0], (
            logs / "migrate.log"
        ).read_text()

        processes.start(
            "sandbox",
            [
                sys.executable,
                "manage.py",
                "run_sandbox",
                "--settings=sandbox.settings",
                "--port",
                str(sandbox_port),
            ],
            sandbox_env,
        )
        processes.start(
            "web",
            [sys.executable, "-m", "gunicorn", "demotemplate.wsgi", "--bind", f"127.0.0.1:{app_port}",
             "--workers", "1", "--threads", "4", "--timeout", "30", "--log-file", "-"],
            app_env,
        )  # fmt: skip
        worker_log = processes.start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "datauploader", "worker", "--pool", "solo",
             "--loglevel", "DEBUG", "--without-gossip", "--without-mingle", "-n", "fullrun@%h"],
            app_env,
        )  # fmt: skip
        wait_for(lambda: answers(app + "/") and answers(sandbox + "/"), 30, "the web and stand-in servers")
        wait_for(lambda: " ready." in worker_log.read_text(), 30, "the worker")

        browser = requests.Session()
        # Sign in with Open Humans, then connect Moves, each through its consent page.
        signed_in = consent(
            browser,
            browser.get(app + "/login/", timeout=10),
            decision="allow",
            username="runner",
            share_username="on",
        )
        assert (signed_in.status_code, signed_in.url) == (200, app + "/dashboard/")
        connected = consent(
            browser,
            browser.get(app + "/moves/connect/", timeout=10),
            decision="allow",
            name="runner",
            history_days=str(HISTORY_DAYS),
        )
        assert (connected.status_code, connected.url) == (200, app + "/dashboard/")

        def status() -> dict:
            processes.check_alive()
            return browser.get(app + "/dashboard/status.json", timeout=10).json()

        current = wait_for(lambda: (s := status())["status"] == "current" and s, 40, "the first sync")
        file_days = browser.get(app + "/download/", timeout=10).json()
        assert len(file_days) == current["days_held"] >= HISTORY_DAYS - 1

        # A day edited at Moves: a signed notification, and the file updated again.
        with contextlib.closing(sqlite3.connect(sandbox_db)) as db:
            (user_pk,) = db.execute(
                "SELECT id FROM sandbox_sandboxmovesuser WHERE name = 'runner'"
            ).fetchone()
            (member_pk,) = db.execute(
                "SELECT id FROM sandbox_sandboxohmember WHERE username = 'runner'"
            ).fetchone()
        # A day with an activity to edit: some days of a life have none (at home, or the phone off).
        for days_back in range(5, 20):
            edited = (date.today() - timedelta(days=days_back)).isoformat()
            if "has no activity on" not in control(
                browser, sandbox, action="edit_day", user=str(user_pk), day=edited
            ):
                break
        web_log = logs / "web.log"
        wait_for(lambda: "Moves notification (DataUpload)" in web_log.read_text(), 20, "the notification")
        wait_for(
            lambda: status()["status"] == "current" and not status()["queued"], 30, "the notified update"
        )

        # The person leaves the project: a signed deauthorisation removes our tokens.
        control(browser, sandbox, action="leave_project", member=str(member_pk))
        wait_for(lambda: ": tokens-removed" in web_log.read_text(), 20, "the deauthorisation")
        processes.check_alive()

    return FullRun(
        logs={path.name: path.read_text(errors="replace") for path in sorted(logs.glob("*.log"))},
        issued=issued_secrets(sandbox_db),
        configured=configured,
    )


def test_a_full_run_leaves_no_token_code_or_secret_in_any_log(full_run):
    every_secret = [*full_run.issued, *(full_run.configured[name] for name in SECRET_SETTINGS)]

    found = [
        (name, secret[:6] + "...")
        for name, text in full_run.logs.items()
        for secret in every_secret
        if secret in text
    ]

    assert found == []
    # Two token pairs and two codes were issued, and every process wrote its log.
    assert len(full_run.issued) == 6
    assert set(full_run.logs) == {"migrate.log", "redis.log", "sandbox.log", "web.log", "worker.log"}
    assert "process_moves" in full_run.logs["worker.log"]
    assert "Open Humans webhook for" in full_run.logs["web.log"]


SIGNED = re.compile(r"(?:Signature|X-Amz-Signature|x-oh-key)=(?!\[redacted\])[^&\s\"']+")


def test_a_full_run_leaves_no_signed_storage_link_in_the_apps_logs(full_run):
    found = {name: SIGNED.findall(full_run.logs[name]) for name in ("web.log", "worker.log")}

    assert found == {"web.log": [], "worker.log": []}
