"""What the dashboard shows in each state, from the database alone."""

import json
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from main.models import MovesMember, RecentDay
from tests.web.conftest import replay


def page(client, **params) -> str:
    # Rendering must not touch any upstream: an empty cassette refuses every request.
    with replay.use_cassette("no_requests.yaml") as cassette:
        response = client.get("/dashboard/", params)
    assert response.status_code == 200
    assert cassette.play_count == 0
    return response.content.decode()


def map_data(html: str) -> dict:
    """The day's places and tracks the page hands to the map script."""
    found = re.search(r'<script id="day-map-data" type="application/json">(.*?)</script>', html)
    assert found, "the page carries no day-map-data"
    return json.loads(found.group(1))


def add_days(moves: MovesMember, count: int, last: date = date(2024, 5, 28)) -> list[RecentDay]:
    return [
        RecentDay.objects.create(
            moves_member=moves,
            date=last - timedelta(days=offset),
            steps=1000 * (offset + 1),
            distance_m=500.0,
            places=[
                {
                    "name": f"<b>Cafe {offset}</b>",
                    "lat": 50.1 + offset / 100,
                    "lon": 8.6,
                    "start": "",
                    "end": "",
                }
            ],
            tracks=[[[50.1, 8.6], [50.12, 8.63]]],
        )
        for offset in range(count)
    ]


def test_dashboard_requires_sign_in(client, db):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/?next=")


def test_dashboard_without_moves_offers_to_connect(signed_in_without_moves):
    html = page(signed_in_without_moves)

    assert 'href="/moves/connect/"' in html
    assert "Connect Moves" in html
    assert "Not connected yet" in html


def test_dashboard_new_member_waits_and_refreshes(signed_in, moves_member):
    html = page(signed_in)

    assert "Waiting for the first update" in html
    assert "Waiting for the first batch to start." in html
    assert "main/progress.js" in html
    assert "No file yet" in html


def test_dashboard_backfilling_shows_progress_and_next_batch(signed_in, moves_state):
    next_batch = timezone.now() + timedelta(minutes=30)
    moves_state(
        status=MovesMember.Status.BACKFILLING, weeks_done=59, weeks_total=150, next_batch_at=next_batch
    )

    html = page(signed_in)

    assert '<progress id="backfill-progress" max="150" value="59">39%</progress>' in html
    assert '59</span> of <span id="weeks-total">150</span> weeks (39%)' in html
    assert f"{next_batch:%H:%M} UTC" in html
    assert re.search(r"\(in (29|30)\s+minutes\)", html)


def test_dashboard_current_member_shows_file_and_last_update(signed_in, moves_state):
    moves_state(
        status=MovesMember.Status.CURRENT,
        weeks_done=12,
        weeks_total=12,
        last_updated=timezone.now(),
        file_id=40330,
        file_size=10_516_796,
        days_held=84,
    )

    html = page(signed_in)

    assert "Up to date" in html
    assert "Open Humans holds 84 days of Moves data" in html
    assert "10.5 MB" in html
    assert '<a class="button" href="/download/">Download moves-storyline-data.json</a>' in html
    assert "main/progress.js" not in html


def test_dashboard_needs_reconnect_offers_reconnect(signed_in, moves_state):
    moves_state(status=MovesMember.Status.NEEDS_RECONNECT, last_error="Moves refused the refresh token")

    html = page(signed_in)

    assert (
        "Moves no longer accepts our access to your account. "
        "Reconnect Moves to continue the updates; the data already on Open Humans stays."
    ) in html
    # The worker's words are for operators (admin), not the member.
    assert "Moves refused the refresh token" not in html
    assert '<a class="button button-primary" href="/moves/connect/">Reconnect Moves</a>' in html
    assert "Updates start again once Moves is reconnected." in html


def test_dashboard_open_humans_needs_reconnect_offers_sign_in(signed_in, moves_member):
    moves_member.member.needs_reconnect = True
    moves_member.member.save()

    html = page(signed_in)

    assert "Open Humans no longer accepts our access" in html
    assert 'href="/login/">Sign in with Open Humans again</a>' in html


def test_dashboard_failing_shows_the_last_error(signed_in, moves_state):
    moves_state(status=MovesMember.Status.FAILING, last_error="Moves answered 503 four times")

    html = page(signed_in)

    assert "The last update did not finish: Moves answered 503 four times." in html
    assert "Update now</button>" in html


def test_dashboard_disables_update_with_time_remaining(signed_in, moves_state):
    moves_state(last_submitted=timezone.now() - timedelta(minutes=20))

    html = page(signed_in)

    assert '<button type="submit" class="button" disabled aria-describedby="update-wait">' in html
    assert re.search(r"You can ask for another update in (39|40)\s+minutes\.", html)


def test_dashboard_enables_update_when_allowed(signed_in, moves_member):
    html = page(signed_in)

    assert '<button type="submit" class="button">Update now</button>' in html


def test_dashboard_preview_has_chart_table_and_map_data(signed_in, moves_member):
    add_days(moves_member, 30)

    html = page(signed_in)

    # The chart covers the last 28 days; the tallest bar is the oldest of them.
    assert html.count('<rect class="bar') == 28
    assert '<title id="steps-title">Steps per day, last 28 days</title>' in html
    assert "the highest day had 28,000 steps" in html
    assert '<th scope="row"><time datetime="2024-05-28">Tue 28 May 2024</time></th><td>1000</td>' in html
    data = map_data(html)
    assert data["date"] == "2024-05-28"
    assert data["tracks"] == [[[50.1, 8.6], [50.12, 8.63]]]
    assert data["places"][0]["name"] == "<b>Cafe 0</b>"
    assert "<b>Cafe" not in html
    assert "leaflet/leaflet.js" in html
    assert "leaflet/leaflet.css" in html


def test_dashboard_day_picker_selects_the_requested_day(signed_in, moves_member):
    add_days(moves_member, 5)

    html = page(signed_in, day="2024-05-25")

    assert '<option value="2024-05-25" selected>' in html
    data = map_data(html)
    assert data["date"] == "2024-05-25"
    assert data["places"][0]["lat"] == pytest.approx(50.13)


def test_dashboard_day_picker_ignores_unknown_days(signed_in, moves_member):
    add_days(moves_member, 3)

    html = page(signed_in, day="1999-01-01")

    assert '<option value="2024-05-28" selected>' in html


def test_dashboard_status_json_reports_progress(signed_in, moves_state):
    moves_state(status=MovesMember.Status.BACKFILLING, weeks_done=30, weeks_total=120)

    with replay.use_cassette("no_requests.yaml"):
        data = signed_in.get("/dashboard/status.json").json()

    assert data["status"] == "backfilling"
    assert (data["weeks_done"], data["weeks_total"], data["percent"], data["working"]) == (30, 120, 25, True)
