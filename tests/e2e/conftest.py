"""Harness of the browser tests: Debian's Chromium driven by Playwright; the app and stand-ins on localhost.

The app runs in pytest-django's ``live_server``; the stand-in Moves and Open
Humans in ``sandbox_server``, on their own origin, so the app's calls are
real HTTP. Tests that watch a sync happen start a real Celery worker in a
thread (``worker``): its clock (``datauploader.ticker``) hands out the quota
every scaled minute, as in production. Others prepare the history inline
(``backfilled``), which is quicker and gives the same rows.

Every page gets a screenshot in test-artifacts/, pass or fail; with
``SCREENSHOTS_TO_DOCS=1`` the README's pictures are written to docs/ too.
"""

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from apiclients.oauth import TokenGrant
from core import accounts
from core.models import MovesMember
from datauploader.celery import app as celery_app
from open_humans.models import OpenHumansMember
from sandbox import testing
from sandbox.models import SandboxMovesUser, SandboxOHMember
from tests.connected import settle

# Playwright's sync API keeps an event loop running in the test thread, which
# trips Django's guard against ORM calls from async code; the test thread
# never runs coroutines itself, so the guard does not apply here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

BASE_DIR = Path(django_settings.BASE_DIR)
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# No sandbox as root, and no background connections to hosts the closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = BASE_DIR / "test-artifacts"
DOCS = BASE_DIR / "docs"
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
IN_CI = bool(os.environ.get("CI"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Quota windows of 2 s (Moves' minute) and retry backoffs from 1 s.
TIME_SCALE = 30


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


# --- The site ------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    sandbox_url: str


@pytest.fixture
def site(live_server, sandbox_server, settings, tmp_path: Path) -> Site:
    """The app in live_server, pointed at the stand-ins; the map's tiles answer 404, as offline."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    settings.APP_BASE_URL = live_server.url
    settings.OH_REDIRECT_URI = f"{live_server.url}/complete/"
    settings.MOVES_REDIRECT_URI = f"{live_server.url}/moves_complete/"
    settings.OH_SOURCE_LABEL = ""
    settings.RATE_LIMIT_TIME_SCALE = TIME_SCALE
    settings.RUN_LEASE_SECONDS = 5.0
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    settings.SANDBOX_MOVES_NOTIFICATION_URL = ""
    settings.SANDBOX_OH_WEBHOOK_URL = ""
    # Same origin, so the Content-Security-Policy allows it; nothing answers there.
    settings.MAP_TILE_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    return Site(url=live_server.url, sandbox_url=sandbox_server.url)


@dataclass
class Participant:
    moves_user: SandboxMovesUser
    oh: SandboxOHMember
    member: MovesMember

    def fresh(self) -> MovesMember:
        self.member.refresh_from_db()
        return self.member


@pytest.fixture
def connect(site: Site) -> Callable[..., Participant]:
    """Someone whose sandbox Moves history has ``days`` days, connected through us (first batch queued)."""
    counter = iter(range(1, 1000))

    def make(days: int = 30, first_date: date | None = None, **user_fields: Any) -> Participant:
        name = f"walker{next(counter)}"
        moves_user = testing.create_moves_user(name, first_date=first_date, days=days, **user_fields)
        oh = testing.create_oh_member(name)
        oh_access, oh_refresh = testing.issue_oh_tokens(oh)
        moves_access, moves_refresh = testing.issue_moves_tokens(moves_user, age=7200)
        user = get_user_model().objects.create_user(username=f"oh-{oh.project_member_id}")
        oh_member = OpenHumansMember.objects.create(
            user=user,
            oh_id=oh.project_member_id,
            username=name,
            access_token=oh_access,
            refresh_token=oh_refresh,
            token_expires=timezone.now() + timedelta(hours=10),
        )
        grant = TokenGrant(moves_access, moves_refresh, 15551998, moves_user.moves_id)
        member = accounts.connect_moves(oh_member, grant)
        return Participant(moves_user=moves_user, oh=oh, member=member)

    return make


@pytest.fixture
def backfilled(connect) -> Callable[..., Participant]:
    """A participant whose whole history is on Open Humans, fetched inline (no worker needed)."""

    def make(days: int = 30, **user_fields: Any) -> Participant:
        participant = connect(days=days, **user_fields)
        settle(participant.member, seconds=120)
        assert participant.fresh().status == MovesMember.Status.CURRENT, participant.member.last_error
        return participant

    return make


# --- A real worker -----------------------------------------------------------------------------


@pytest.fixture
def worker(site: Site, monkeypatch) -> Iterator[Any]:
    """A real Celery worker (solo pool) in a thread of this process, with its clock, on the test Redis.

    On an in-memory SQLite test database every thread must use the test
    thread's connection (the database exists nowhere else), so new threads
    are handed that connection, as live_server does for its own.
    """
    shared = {
        conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    if shared:
        original = connections.create_connection
        monkeypatch.setattr(
            connections, "create_connection", lambda alias: shared.get(alias) or original(alias)
        )

    def release_connections(**_: object) -> None:
        # A PostgreSQL connection left open by the worker thread would stop
        # the test database from being dropped; in-memory SQLite ignores close.
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()

    signals.task_postrun.connect(release_connections, weak=False)
    # Both names: the app reads its settings from Django's under the CELERY_
    # prefix, and that one wins unless set too. The worker must not take over
    # the root logger: pytest's log capture lives there.
    keys = (
        "task_always_eager",
        "CELERY_TASK_ALWAYS_EAGER",
        "worker_hijack_root_logger",
        "CELERY_WORKER_HIJACK_ROOT_LOGGER",
    )
    saved = {key: celery_app.conf.get(key) for key in keys}
    celery_app.conf.update(
        task_always_eager=False,
        CELERY_TASK_ALWAYS_EAGER=False,
        worker_hijack_root_logger=False,
        CELERY_WORKER_HIJACK_ROOT_LOGGER=False,
    )
    try:
        # The worker's own clock (datauploader.ticker) hands out the quota every window.
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as running:
            yield running
    finally:
        celery_app.conf.update(saved)
        signals.task_postrun.disconnect(release_connections)
        for conn in shared.values():
            conn.dec_thread_sharing()


# --- Pages ----------------------------------------------------------------------------------


@dataclass
class Browsing:
    """A browser context signed in (or not) as someone, that keeps its console's complaints."""

    context: BrowserContext
    page: Page
    site: Site
    problems: list[str]

    def sign_in(self, member: MovesMember) -> None:
        self.sign_in_user(member.member.user)

    def sign_in_user(self, user: Any) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        self.context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": self.site.url}]
        )

    def open(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page


@pytest.fixture
def browse(browser: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Callable[..., Browsing]]:
    """``browse(viewport=PHONE, timezone_id="Asia/Tokyo")``: a fresh context; screenshots kept at the end."""
    opened: list[Browsing] = []

    def open_context(viewport: dict[str, int] | None = None, **options: Any) -> Browsing:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-GB", **options)
        context.set_default_timeout(15_000)
        page = context.new_page()
        problems: list[str] = []

        def listen(message: ConsoleMessage) -> None:
            # A violated Content-Security-Policy or a script error shows here.
            if message.type == "error" and "no-tiles" not in message.text and "404" not in message.text:
                problems.append(message.text)

        page.on("console", listen)
        page.on("pageerror", lambda error: problems.append(str(error)))
        browsing = Browsing(context=context, page=page, site=site, problems=problems)
        opened.append(browsing)
        return browsing

    yield open_context
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    for number, browsing in enumerate(opened):
        try:
            suffix = f"-{number}" if number else ""
            browsing.page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        finally:
            browsing.context.close()


def keep_for_readme(page: Page, name: str, **options: Any) -> None:
    """Save a README picture to docs/ when asked to (SCREENSHOTS_TO_DOCS=1), and always to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), **options)
    if os.environ.get("SCREENSHOTS_TO_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name), **options)


# --- Accessibility ------------------------------------------------------------------------------


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each.

    axe-core is installed from npm by ``make install`` (package.json) and put
    into the page through the browser's debugging protocol, which the page's
    Content-Security-Policy does not govern, so the policy stays as served.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing; run `make install` (npm ci installs axe-core)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] in impacts:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found
