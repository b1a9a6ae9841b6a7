"""main.dashboard: what each card says in each state, and that no two cards disagree."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import MovesMember
from main import dashboard
from main.dashboard import now_card, update_button

Status = MovesMember.Status


def test_now_card_of_a_new_member_says_getting_started(moves, set_state):
    set_state(status=Status.NEW, sync_wanted_since=timezone.now())

    card = now_card(moves.member, moves)

    assert (card.tone, card.headline) == ("working", "Getting started")
    assert card.button == dashboard.UpdateButton(
        "Update now", False, "Already updating: your history is still arriving."
    )


def test_now_card_of_a_backfill_shows_progress_and_the_next_batch(moves, set_state):
    next_batch = timezone.now() + timedelta(seconds=40)
    set_state(
        status=Status.BACKFILLING,
        weeks_done=30,
        weeks_total=120,
        next_batch_at=next_batch,
        sync_wanted_since=timezone.now(),
    )

    card = now_card(moves.member, moves)

    assert card.headline == "Fetching your history"
    assert (card.progress.weeks_done, card.progress.weeks_total, card.progress.percent) == (30, 120, 25)
    assert (card.when_label, card.when) == ("Next batch", next_batch)


def test_now_card_of_a_retrying_member_names_the_service_and_the_next_try(moves, set_state):
    next_try = timezone.now() + timedelta(seconds=30)
    set_state(
        status=Status.RETRYING,
        error_service="Moves",
        last_error="Moves is not answering right now.",
        failures=1,
        not_before=next_try,
        sync_wanted_since=timezone.now(),
    )

    card = now_card(moves.member, moves)

    assert card.tone == "problem"
    assert card.headline == "A problem with Moves; trying again soon"
    assert card.lines == ("Moves is not answering right now.", "Nothing has reached Open Humans yet.")
    assert (card.when_label, card.when) == ("Next try", next_try)
    assert card.button == dashboard.UpdateButton("Try again now", True)


def test_now_card_of_a_failing_member_says_what_happens_next_and_when(moves, set_state, settings):
    settings.FAILING_RETRY_SECONDS = 6 * 3600
    settings.RATE_LIMIT_TIME_SCALE = 1
    next_try = timezone.now() + timedelta(hours=6)
    set_state(
        status=Status.FAILING,
        error_service="Open Humans",
        last_error="Open Humans refused a request (HTTP 403).",
        failures=5,
        not_before=next_try,
        file_id=77,
        days_held=1200,
    )

    card = now_card(moves.member, moves)

    assert card.headline == "A problem with Open Humans; updates are failing"
    assert card.lines == (
        "Open Humans refused a request (HTTP 403).",
        "5 attempts in a row failed, so we now try less often.",
        "Your file on Open Humans is unchanged and keeps its 1,200 days.",
    )
    assert (card.when_label, card.when, card.then_every) == ("Next automatic try", next_try, "6 hours")


def test_now_card_of_a_problem_on_our_side_says_so(moves, set_state):
    set_state(status=Status.RETRYING, error_service="our servers", last_error="Our servers had a problem.")

    assert now_card(moves.member, moves).headline == "A problem on our servers; trying again soon"


def test_now_card_of_a_current_member_says_up_to_date(moves, set_state):
    updated = timezone.now() - timedelta(hours=2)
    set_state(status=Status.CURRENT, last_updated=updated, last_day_held="2026-03-04")

    card = now_card(moves.member, moves)

    assert (card.tone, card.headline, card.last_updated) == ("ok", "Up to date", updated)
    assert card.lines == ("Your file holds every day up to Wednesday 4 March 2026.",)
    assert card.button == dashboard.UpdateButton("Update now", True)


def test_now_card_of_a_current_member_with_an_update_running_says_updating(moves, set_state):
    set_state(status=Status.CURRENT, lease_until=timezone.now() + timedelta(seconds=60))

    card = now_card(moves.member, moves)

    assert card.headline == "Updating"
    assert card.button == dashboard.UpdateButton(
        "Update now", False, "Already updating: a batch is running now."
    )


@pytest.mark.parametrize(
    "fields", [{"status": Status.NEEDS_RECONNECT}, {"status": Status.CURRENT, "refresh_token": ""}]
)
def test_now_card_when_moves_access_ended_asks_to_reconnect(moves, set_state, fields):
    set_state(**fields)

    card = now_card(moves.member, moves)

    assert (card.headline, card.action) == ("Reconnect Moves to continue", "reconnect_moves")
    assert card.button is None
    assert dashboard.moves_connection_words(moves, False) == "Needs reconnecting"


def test_now_card_when_open_humans_access_ended_comes_first(moves, set_state):
    set_state(status=Status.RETRYING)
    moves.member.needs_reconnect = True

    card = now_card(moves.member, moves)

    assert (card.headline, card.action) == ("Sign in with Open Humans again", "reconnect_open_humans")


def test_now_card_without_moves_tells_never_connected_from_disconnected(moves):
    oh_member = moves.member

    assert now_card(oh_member, None).headline == "Connect your Moves account"
    assert now_card(oh_member, None, disconnected=True).headline == "Moves is disconnected"
    assert dashboard.moves_connection_words(None, False) == "Not connected yet"
    assert dashboard.moves_connection_words(None, True) == "Disconnected"


def test_update_button_after_a_recent_update_says_when_it_works_again(moves, set_state, settings):
    settings.MANUAL_UPDATE_INTERVAL_SECONDS = 3600
    pressed = timezone.now() - timedelta(minutes=20)
    set_state(status=Status.CURRENT, last_submitted=pressed)

    button = update_button(moves)

    assert (button.enabled, button.reason) == (False, "You asked for an update recently.")
    assert button.again_at == pressed + timedelta(hours=1)


@pytest.mark.parametrize("status", [Status.RETRYING, Status.FAILING, Status.BACKFILLING, Status.NEW])
def test_file_card_without_a_file_never_says_the_data_is_safe(moves, set_state, member_client, status):
    set_state(
        status=status, file_id=None, error_service="Moves", last_error="Moves is not answering right now."
    )

    html = member_client.get("/dashboard/").content.decode()

    assert "No file yet" in html
    assert "safe" not in html
    assert "keeps its" not in html


def test_status_json_sends_the_cards_rendered_like_the_page(member_client, set_state):
    set_state(
        status=Status.RETRYING,
        error_service="Moves",
        last_error="Moves is not answering right now.",
        not_before=timezone.now() + timedelta(seconds=20),
        sync_wanted_since=timezone.now(),
    )

    data = member_client.get("/dashboard/status.json").json()

    assert data["status"] == "retrying"
    assert data["headline"] == "A problem with Moves; trying again soon"
    assert data["poll_seconds"] == dashboard.POLL_SECONDS_BUSY
    assert data["update_allowed"] is True
    assert '<h2 id="now-heading">A problem with Moves; trying again soon</h2>' in data["cards"]["now"]
    assert re.search(r'<time datetime="[^"]+" data-clock>\d\d:\d\d UTC</time>', data["cards"]["now"])
    assert "in less than a minute" in data["cards"]["now"]
    assert "No file yet" in data["cards"]["file"]


def test_status_json_of_a_quiet_member_polls_slowly(member_client, set_state):
    set_state(status=Status.CURRENT, sync_wanted_since=None)

    data = member_client.get("/dashboard/status.json").json()

    assert (data["status"], data["poll_seconds"], data["queued"]) == (
        "current",
        dashboard.POLL_SECONDS_IDLE,
        False,
    )
