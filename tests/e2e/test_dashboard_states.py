"""Each state of the dashboard, and its data preview, in a real browser.

States are set up directly in the database, which the test thread shares
with live_server; the member is signed in through a session cookie. The app's
Open Humans calls (download, disconnect) go to the sandbox in the same
live_server. Each test saves named screenshots under test-artifacts/.
"""

import base64
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from datauploader.celery import app as celery_app
from main.models import MovesMember, RecentDay
from sandbox import storage, testing
from sandbox.models import SandboxFile, SandboxOHMember
from sandbox.openhumans_views import SOURCE as SANDBOX_SOURCE
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A tile server that never answers: the browser's requests to it are aborted,
# as they fail on a machine without internet.
TILE_HOST = "tiles.invalid"
LAST_DAY = date(2024, 5, 28)
PREVIEW_DAYS = 21
FILE_BYTES = b'[{"date": "20240528", "segments": []}]'


@dataclass
class Participant:
    moves: MovesMember
    oh: SandboxOHMember

    @property
    def oh_id(self) -> str:
        return self.moves.member.oh_id


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


@pytest.fixture
def tile_requests(page: Page, settings) -> list[str]:
    """The tile URLs the map asked for; every one of them fails."""
    settings.MAP_TILE_URL = f"http://{TILE_HOST}/{{z}}/{{x}}/{{y}}.png"
    requested: list[str] = []

    def refuse(route: Route) -> None:
        requested.append(route.request.url)
        route.abort("internetdisconnected")

    page.context.route(f"http://{TILE_HOST}/**", refuse)
    return requested


@pytest.fixture
def participant(sandbox_urls, make_member) -> Participant:
    """A member signed in to Open Humans (the sandbox) with Moves connected and nothing fetched yet."""
    oh = testing.create_oh_member("grace")
    oh_access, oh_refresh = testing.issue_oh_tokens(oh)
    moves = make_member(oh_id=oh.project_member_id)
    moves.member.username = "grace"
    moves.member.store_tokens(oh_access, oh_refresh, 36000)
    moves.member.save()
    return Participant(moves=moves, oh=oh)


@pytest.fixture
def open_dashboard(page: Page, live_server, tile_requests) -> Callable[[Participant], None]:
    """Sign the participant in within the page's browser context and open the dashboard."""

    def open_(who: Participant) -> None:
        client = Client()
        client.force_login(who.moves.member.user)
        session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page.goto(live_server.url + "/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your Moves data")

    return open_


@pytest.fixture
def broker(redis_db: redis.Redis) -> Iterator[redis.Redis]:
    """Queue tasks in Redis instead of running them eagerly, so a test can read what was queued."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield redis_db
    celery_app.conf.task_always_eager = saved


def queued_tasks(client: redis.Redis) -> list[tuple[str, list]]:
    """(task name, args) of each message waiting in the default Celery queue, oldest first."""
    tasks = []
    for raw in reversed(client.lrange("celery", 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def set_state(moves: MovesMember, **fields) -> None:
    for name, value in fields.items():
        setattr(moves, name, value)
    moves.save()


def store_file(who: Participant) -> SandboxFile:
    """The Moves file as Open Humans holds it after an update."""
    stored = SandboxFile.objects.create(
        member=who.oh,
        basename=django_settings.MOVES_FILE_NAME,
        source=SANDBOX_SOURCE,
        upload_expires=timezone.now() + timedelta(hours=1),
        completed_at=timezone.now(),
        size=len(FILE_BYTES),
        received_size=len(FILE_BYTES),
    )
    storage.receive(stored, io.BytesIO(FILE_BYTES), len(FILE_BYTES))
    return stored


def preview_day(moves: MovesMember, offset: int) -> RecentDay:
    """Day ``offset`` before LAST_DAY: 3 places and 2 trips on even offsets, else one of each."""
    places = [
        {
            "name": f"Place {offset}-{n}",
            "lat": 52.50 + n / 100,
            "lon": 13.40 + n / 100,
            "start": "",
            "end": "",
        }
        for n in range(3 if offset % 2 == 0 else 1)
    ]
    tracks = [
        [[52.50 + n / 100 + step / 500, 13.40 + step / 400] for step in range(5)]
        for n in range(max(1, len(places) - 1))
    ]
    return RecentDay.objects.create(
        moves_member=moves,
        date=LAST_DAY - timedelta(days=offset),
        steps=3000 + 250 * ((offset * 7) % 20),
        distance_m=1000.0 + offset,
        places=places,
        tracks=tracks,
    )


def current_with_preview(who: Participant) -> list[RecentDay]:
    stored = store_file(who)
    updated = timezone.now() - timedelta(hours=3)
    set_state(
        who.moves,
        status=MovesMember.Status.CURRENT,
        weeks_done=12,
        weeks_total=12,
        last_updated=updated,
        file_id=stored.pk,
        file_size=len(FILE_BYTES),
        days_held=PREVIEW_DAYS,
        last_day_held=LAST_DAY,
    )
    return sorted((preview_day(who.moves, n) for n in range(PREVIEW_DAYS)), key=lambda day: day.date)


def expect_map_of(page: Page, day: RecentDay) -> None:
    """The map draws the day's places as markers and its trips as lines, over tiles that never load."""
    overlay = page.locator("#day-map .leaflet-overlay-pane")
    expect(overlay.locator("path.day-place")).to_have_count(len(day.places))
    expect(overlay.locator("path.day-track")).to_have_count(len(day.tracks))
    expect(page.locator("ul.places li")).to_have_text([place["name"] for place in day.places])
    map_box = page.locator("#day-map").bounding_box()
    for track in overlay.locator("path.day-track").all():
        expect(track).to_be_visible()
        box = track.bounding_box()
        assert box["width"] > 20 and box["height"] > 20, box
        assert map_box["x"] <= box["x"] and box["x"] + box["width"] <= map_box["x"] + map_box["width"]
        assert map_box["y"] <= box["y"] and box["y"] + box["height"] <= map_box["y"] + map_box["height"]


def test_not_connected_offers_to_connect_moves(page: Page, participant, open_dashboard, settings):
    participant.moves.delete()

    open_dashboard(participant)

    connections = page.locator("section", has=page.get_by_role("heading", name="Connections"))
    expect(connections.locator("dd")).to_have_text(
        [re.compile(r"Connected\s+as grace"), re.compile(r"^\s*Not connected yet\s*$")]
    )
    connect = page.get_by_role("link", name="Connect Moves")
    expect(connect).to_have_attribute("href", "/moves/connect/")
    expect(page.get_by_role("heading", level=2)).to_have_text(["Connections"])
    expect(page.get_by_role("button", name="Update now")).to_have_count(0)
    shoot(page, "not-connected")

    connect.click()
    expect(page.get_by_role("heading", name=re.compile("Moves data"))).to_be_visible()
    assert page.url.startswith(settings.MOVES_OAUTH_BASE_URL)


def test_new_member_waits_for_the_first_update(page: Page, participant, open_dashboard):
    open_dashboard(participant)

    expect(page.locator("#status-label")).to_have_text("Waiting for the first update")
    expect(page.locator("#progress-text")).to_have_text("Waiting for the first batch to start.")
    expect(page.locator("#backfill-progress")).to_have_count(0)
    expect(page.get_by_text("No file yet: it appears after the first batch")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Last complete update:\s+not yet"))).to_be_visible()
    expect(page.locator("#progress")).to_have_attribute("data-working", "true")
    shoot(page, "new")


def test_backfilling_shows_progress_and_next_batch_and_follows_the_worker(
    page: Page, participant, open_dashboard
):
    next_batch = (timezone.now() + timedelta(minutes=30, seconds=30)).replace(microsecond=0)
    set_state(
        participant.moves,
        status=MovesMember.Status.BACKFILLING,
        weeks_done=59,
        weeks_total=150,
        next_batch_at=next_batch,
    )
    # The page polls every few seconds; a fake clock lets the test move time on.
    page.clock.install()

    open_dashboard(participant)

    bar = page.get_by_role("progressbar", name="Weeks of history fetched")
    expect(bar).to_have_attribute("max", "150")
    expect(bar).to_have_attribute("value", "59")
    expect(page.locator("#progress-text")).to_have_text("59 of 150 weeks (39%)")
    expect(page.locator("#status-label")).to_have_text("Backfilling history")
    next_at = page.locator("#next-batch time")
    expect(next_at).to_have_attribute("datetime", next_batch.isoformat())
    expect(next_at).to_have_text(f"{next_batch:%H:%M} UTC")
    expect(page.locator("#next-batch")).to_contain_text("(in 30 minutes)")
    shoot(page, "backfilling")

    # The worker fetches another batch: the bar moves without a reload.
    set_state(participant.moves, weeks_done=75)
    page.clock.run_for(5_100)
    expect(bar).to_have_js_property("value", 75)
    expect(page.locator("#progress-text")).to_have_text("75 of 150 weeks (50%)")
    expect(next_at).to_have_text(f"{next_batch:%H:%M} UTC")
    shoot(page, "backfilling-moved")

    # The backfill finishes: the page reloads into the up-to-date state.
    set_state(
        participant.moves,
        status=MovesMember.Status.CURRENT,
        weeks_done=150,
        next_batch_at=None,
        last_updated=timezone.now(),
    )
    page.clock.run_for(5_100)
    expect(page.locator("#status-label")).to_have_text("Up to date")
    expect(page.locator("#next-batch")).to_have_count(0)
    expect(bar).to_have_attribute("value", "150")


def test_current_member_sees_last_update_download_chart_and_map(
    page: Page, participant, open_dashboard, tile_requests
):
    days = current_with_preview(participant)
    latest, chosen = days[-1], days[-4]
    assert (len(latest.places), len(latest.tracks)) != (len(chosen.places), len(chosen.tracks))

    open_dashboard(participant)

    expect(page.locator("#status-label")).to_have_text("Up to date")
    updated = participant.moves.last_updated
    last_update = page.locator("#progress time")
    expect(last_update).to_have_attribute("datetime", updated.isoformat())
    expect(last_update).to_have_text(f"{updated:%-d %B %Y, %H:%M} UTC")
    expect(page.get_by_text(f"Open Humans holds {PREVIEW_DAYS} days of Moves data")).to_be_visible()

    # The chart: one bar per day, the tallest reaching the top, the chosen day marked.
    chart = page.get_by_role("img", name=f"Steps per day, last {PREVIEW_DAYS} days")
    expect(chart.locator("rect.bar")).to_have_count(PREVIEW_DAYS)
    most = max(day.steps for day in days)
    expect(page.locator("figure.chart figcaption")).to_have_text(
        f"Steps per day from 8 May 2024 to 28 May 2024; the highest day had {most:,} steps."
    )
    heights = [
        float(h)
        for h in chart.locator("rect.bar").evaluate_all("bars => bars.map(b => b.getAttribute('height'))")
    ]
    assert heights.index(max(heights)) == [day.steps for day in days].index(most)
    expect(chart.locator("rect.bar-selected title")).to_have_text(f"Tue 28 May: {latest.steps} steps")
    page.get_by_text("Steps per day as a table").click()
    expect(page.locator("table.data-table tbody tr")).to_have_count(PREVIEW_DAYS)

    # The map of the latest day, drawn although no tile ever loads.
    expect(page.get_by_label("Day", exact=True)).to_have_value("2024-05-28")
    expect_map_of(page, latest)
    expect(page.locator("#day-map img.leaflet-tile").first).to_be_attached()
    assert tile_requests, "the map never asked the tile server"
    assert all(url.startswith(f"http://{TILE_HOST}/") for url in tile_requests)
    expect(page.locator("#map-heading ~ p.hint")).to_have_text("2 trips and 3 places on this day.")
    shoot(page, "current")

    # The download link hands over the file Open Humans holds.
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Download {django_settings.MOVES_FILE_NAME}").click()
    with open(download.value.path(), "rb") as downloaded:
        assert downloaded.read() == FILE_BYTES

    # Choosing another day redraws the map for that day.
    page.get_by_label("Day", exact=True).select_option("2024-05-25")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?day=2024-05-25$"))
    expect(page.get_by_role("region", name="Map of places and trips on 25 May 2024")).to_be_visible()
    expect_map_of(page, chosen)
    expect(chart.locator("rect.bar-selected title")).to_have_text(f"Sat 25 May: {chosen.steps} steps")
    expect(page.locator("#map-heading ~ p.hint")).to_have_text("1 trip and 1 place on this day.")
    shoot(page, "current-other-day")


def test_needs_reconnect_explains_and_offers_reconnect(page: Page, participant, open_dashboard, settings):
    set_state(
        participant.moves,
        status=MovesMember.Status.NEEDS_RECONNECT,
        last_error="Moves refused our access. Please reconnect.",
        weeks_done=12,
        weeks_total=12,
    )

    open_dashboard(participant)

    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Something needs your attention")
    expect(alert).to_contain_text(
        "Moves no longer accepts our access to your account. "
        "Reconnect Moves to continue the updates; the data already on Open Humans stays."
    )
    expect(page.get_by_role("button", name="Update now")).to_be_disabled()
    expect(page.locator("#update-wait")).to_have_text("Updates start again once Moves is reconnected.")
    expect(page.locator("#status-label")).to_have_text("Needs to reconnect")
    shoot(page, "needs-reconnect")

    alert.get_by_role("link", name="Reconnect Moves").click()
    expect(page.get_by_role("heading", name=re.compile("Moves data"))).to_be_visible()
    assert page.url.startswith(settings.MOVES_OAUTH_BASE_URL)


def test_failing_shows_the_last_error_and_what_to_do(page: Page, participant, open_dashboard, broker):
    set_state(
        participant.moves,
        status=MovesMember.Status.FAILING,
        last_error="Moves or Open Humans is not answering.",
    )

    open_dashboard(participant)

    alert = page.get_by_role("alert")
    expect(alert.locator("p").first).to_have_text(
        "The last update did not finish: Moves or Open Humans is not answering. "
        "The data already on Open Humans is safe, and we try again by ourselves."
    )
    expect(page.locator("#status-label")).to_have_text("Failing")
    shoot(page, "failing")

    alert.get_by_role("button", name="Try the update again now").click()
    expect(page.get_by_role("status")).to_have_text(
        "Update requested. New data appears here when it is done."
    )
    assert queued_tasks(broker) == [("datauploader.process_moves", [participant.oh_id])]
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"yourself in (59\s+minutes|1\s+hour)\."))


def test_update_button_waits_out_the_hour_and_the_server_holds_to_it(
    page: Page, participant, open_dashboard, broker
):
    asked = timezone.now() - timedelta(minutes=20)
    set_state(participant.moves, status=MovesMember.Status.CURRENT, last_submitted=asked)

    open_dashboard(participant)

    button = page.get_by_role("button", name="Update now")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-describedby", "update-wait")
    expect(page.locator("#update-wait")).to_have_text(
        re.compile(r"^\s*You can ask for another update in (39|40)\s+minutes\.\s*$")
    )
    shoot(page, "update-disabled")

    # A forced submit (the button re-enabled by hand) is refused by the server.
    button.evaluate("button => { button.disabled = false; }")
    button.click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"An update was asked for recently\. You can ask again in (39|40)\s+minutes\.")
    )
    assert queued_tasks(broker) == []
    participant.moves.refresh_from_db()
    assert participant.moves.last_submitted == asked


def test_update_button_queues_an_update_when_allowed(page: Page, participant, open_dashboard, broker):
    set_state(
        participant.moves,
        status=MovesMember.Status.CURRENT,
        last_submitted=timezone.now() - timedelta(minutes=61),
    )

    open_dashboard(participant)
    button = page.get_by_role("button", name="Update now")
    expect(button).to_be_enabled()
    expect(page.locator("#update-wait")).to_have_count(0)
    shoot(page, "update-enabled")

    button.click()

    expect(page.get_by_role("status")).to_have_text(
        "Update requested. New data appears here when it is done."
    )
    assert queued_tasks(broker) == [("datauploader.process_moves", [participant.oh_id])]
    expect(button).to_be_disabled()
    expect(page.locator("#update-wait")).to_have_text(
        re.compile(r"You can ask for another update in (59\s+minutes|1\s+hour)\.")
    )
    shoot(page, "update-queued")


def test_disconnect_asks_first_then_deletes_the_file(page: Page, participant, open_dashboard):
    current_with_preview(participant)
    open_dashboard(participant)

    page.get_by_role("link", name="Disconnect Moves…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Moves?")
    expect(page.locator("main")).to_contain_text(f"This deletes {django_settings.MOVES_FILE_NAME} from your")
    shoot(page, "disconnect-confirm")

    # Cancel changes nothing.
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#status-label")).to_have_text("Up to date")
    assert MovesMember.objects.filter(pk=participant.moves.pk).exists()
    assert len(testing.stored_files(participant.oh)) == 1

    page.get_by_role("link", name="Disconnect Moves…").click()
    page.get_by_role("button", name="Yes, disconnect and delete the file").click()

    expect(page.get_by_role("status")).to_have_text(
        f"Moves is disconnected and {django_settings.MOVES_FILE_NAME} was deleted from Open Humans."
    )
    expect(page.get_by_role("link", name="Connect Moves")).to_be_visible()
    expect(page.locator("#day-map")).to_have_count(0)
    assert MovesMember.objects.count() == 0
    assert RecentDay.objects.count() == 0
    assert testing.stored_files(participant.oh) == []
    shoot(page, "disconnected")


def test_phone_width_fits_the_screen_and_keeps_the_map(page: Page, participant, open_dashboard):
    days = current_with_preview(participant)
    page.set_viewport_size({"width": 390, "height": 844})

    open_dashboard(participant)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for card in page.locator("section.card").all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    map_box = page.locator("#day-map").bounding_box()
    assert 300 <= map_box["width"] <= 390 and map_box["height"] >= 200, map_box
    chart_box = page.get_by_role("img", name=re.compile("Steps per day")).bounding_box()
    assert chart_box["x"] + chart_box["width"] <= 390, chart_box
    expect_map_of(page, days[-1])
    # Action buttons take the whole width of their card, easy to hit with a thumb.
    update_box = page.get_by_role("button", name="Update now").bounding_box()
    assert update_box["width"] >= 300 and update_box["height"] >= 44, update_box
    shoot(page, "phone")


def test_keyboard_reaches_the_main_controls_in_order(page: Page, participant, open_dashboard):
    current_with_preview(participant)
    open_dashboard(participant)

    expect(page.locator("h1, h2")).to_have_text(
        [
            "Your Moves data",
            "Connections",
            "Progress",
            "Your file on Open Humans",
            "Steps per day",
            "Places and trips of one day",
            "Disconnect",
        ]
    )
    expect(page.get_by_label("Day", exact=True)).to_be_visible()
    expect(page.locator("label[for=day]")).to_have_text("Day")
    expect(page.locator("label[for=day]")).to_be_visible()

    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => {
                    const el = document.activeElement;
                    const label = el.labels && el.labels.length ? el.labels[0].textContent : "";
                    const name = el.getAttribute("aria-label") || label || el.textContent;
                    return el.tagName.toLowerCase() + ":" + name.trim().replace(/\\s+/g, " ");
                }"""
            )
        )
        if reached[-1].startswith("a:Disconnect Moves"):
            break
    expected = [
        "a:Skip to content",
        "button:Log out",
        "button:Update now",
        f"a:Download {django_settings.MOVES_FILE_NAME}",
        "summary:Steps per day as a table",
        "select:Day",
        "button:Show",
        "div:Map of places and trips on 28 May 2024",
        "a:Disconnect Moves…",
    ]
    assert [stop for stop in reached if stop in expected] == expected, reached

    # The focused control shows a visible outline.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    shoot(page, "keyboard-focus")

    # The skip link takes keyboard users straight to the content.
    page.goto(page.url)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
