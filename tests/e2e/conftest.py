"""Harness of the end-to-end tests: Debian's Chromium driven by Playwright against live_server.

The app and the stand-in servers run in one live_server (a threaded WSGI
server), so the app's calls to the sandbox are real HTTP on localhost.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from django.conf import settings as django_settings
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from datauploader.celery import app as celery_app

# Playwright's sync API keeps an event loop running in the test thread, which
# trips Django's guard against ORM calls from async code; the test thread
# never runs coroutines itself, so the guard does not apply here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The flags this machine needs: no sandbox as root, and no background
# connections to hosts the closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
IN_CI = bool(os.environ.get("CI"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Outside CI a developer without Chromium still gets a green run; in CI a
    # missing browser must fail loudly (the `browser` fixture does that).
    if IN_CI or CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found (apt-get install chromium)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; CI installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context; its screenshot lands in test-artifacts/, pass or fail."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


@dataclass(frozen=True)
class SandboxUrls:
    app: str
    moves_api: str
    moves_oauth: str
    openhumans: str


@pytest.fixture
def sandbox_urls(live_server, settings, tmp_path: Path) -> SandboxUrls:
    """Point the app at the stand-in servers mounted in the same live_server.

    Files either side writes go under the test's own temporary directory.
    """
    app = live_server.url
    urls = SandboxUrls(
        app=app,
        moves_api=f"{app}/sandbox/moves/api/1.1",
        moves_oauth=f"{app}/sandbox/moves/oauth/v1",
        openhumans=f"{app}/sandbox/openhumans",
    )
    settings.APP_BASE_URL = app
    settings.MOVES_API_BASE_URL = urls.moves_api
    settings.MOVES_OAUTH_BASE_URL = urls.moves_oauth
    settings.OH_BASE_URL = urls.openhumans
    settings.OH_REDIRECT_URI = f"{app}/complete/"
    settings.MOVES_REDIRECT_URI = f"{app}/moves_complete/"
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    settings.DATA_WORK_DIR = tmp_path / "work"
    return urls


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[WorkController]:
    """A real Celery worker in a thread of this process, consuming the test Redis.

    Tasks go through the broker instead of running inline, so a countdown
    really waits. The in-memory SQLite test database exists only on the test
    thread's connection, so the worker thread borrows it, as live_server does.
    """
    shared = {
        conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()

    def borrow_connections(**_: object) -> None:
        for alias, conn in shared.items():
            connections[alias] = conn

    def release_connections(**_: object) -> None:
        # A PostgreSQL connection left open by the worker thread would stop
        # the test database from being dropped; in-memory SQLite ignores close.
        connections.close_all()

    signals.task_prerun.connect(borrow_connections, weak=False)
    signals.task_postrun.connect(release_connections, weak=False)
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "worker_hijack_root_logger")}
    # The worker must not take over the root logger: pytest's log capture lives there.
    celery_app.conf.update(task_always_eager=False, worker_hijack_root_logger=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        celery_app.conf.update(saved)
        signals.task_prerun.disconnect(borrow_connections)
        signals.task_postrun.disconnect(release_connections)
        for conn in shared.values():
            conn.dec_thread_sharing()
