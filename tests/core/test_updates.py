"""A member pressing Update now (or Try again now): what is asked for, and what it costs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import MovesMember, Priority
from core.updates import Asked, ask_for_update

Status = MovesMember.Status


def minutes_ago(minutes: float):
    return timezone.now() - timedelta(minutes=minutes)


def test_ask_for_update_without_moves_is_not_connected(db):
    assert ask_for_update(None) is Asked.NOT_CONNECTED


@pytest.mark.parametrize(
    "fields",
    [{"status": Status.NEEDS_RECONNECT}, {"refresh_token": ""}],
    ids=["needs reconnect", "no tokens"],
)
def test_ask_for_update_of_a_member_without_a_working_connection_is_not_connected(make_member, fields):
    moves = make_member(**fields)

    assert ask_for_update(moves) is Asked.NOT_CONNECTED

    assert MovesMember.objects.get().last_submitted is None


def test_ask_for_update_while_open_humans_access_has_ended_asks_to_sign_in_and_spends_nothing(make_member):
    moves = make_member()
    moves.member.needs_reconnect = True
    moves.member.save()

    assert ask_for_update(moves) is Asked.SIGN_IN_AGAIN

    assert (MovesMember.objects.get().last_submitted, MovesMember.objects.get().sync_wanted_since) == (
        None,
        None,
    )


def test_ask_for_update_queues_an_update_and_wakes_the_dispatcher(
    make_member, django_capture_on_commit_callbacks
):
    moves = make_member(status=Status.CURRENT)

    with django_capture_on_commit_callbacks() as callbacks:
        asked = ask_for_update(moves)

    assert asked is Asked.UPDATE_QUEUED
    stored = MovesMember.objects.get()
    assert (
        stored.sync_priority,
        stored.sync_wanted_since is not None,
        stored.last_submitted is not None,
    ) == (
        Priority.UPDATE,
        True,
        True,
    )
    assert len(callbacks) == 1


def test_ask_for_update_twice_is_already_under_way_and_spends_nothing(make_member):
    moves = make_member(status=Status.CURRENT)
    ask_for_update(moves)
    first_press = MovesMember.objects.get().last_submitted

    assert ask_for_update(moves) is Asked.ALREADY_UNDER_WAY

    assert MovesMember.objects.get().last_submitted == first_press


@pytest.mark.parametrize(
    "fields",
    [
        {"sync_wanted_since": timezone.now()},
        {"lease_until": timezone.now() + timedelta(minutes=1), "lease_token": "a" * 32},
    ],
    ids=["queued", "running"],
)
def test_ask_for_update_while_a_sync_is_queued_or_running_is_already_under_way(make_member, fields):
    moves = make_member(status=Status.BACKFILLING, **fields)

    assert ask_for_update(moves) is Asked.ALREADY_UNDER_WAY

    assert MovesMember.objects.get().last_submitted is None


def test_ask_for_update_after_an_update_within_the_hour_is_too_soon(make_member):
    moves = make_member(status=Status.CURRENT, last_submitted=minutes_ago(10))

    assert ask_for_update(moves) is Asked.TOO_SOON

    assert MovesMember.objects.get().sync_wanted_since is None


def test_ask_for_update_from_a_page_loaded_before_another_tab_asked_is_already_under_way(make_member):
    moves = make_member(status=Status.CURRENT)
    other_tab = MovesMember.objects.get()
    ask_for_update(other_tab)

    assert ask_for_update(moves) is Asked.ALREADY_UNDER_WAY


@pytest.mark.parametrize("status", [Status.RETRYING, Status.FAILING])
def test_ask_for_update_of_a_member_in_trouble_retries_now(
    make_member, django_capture_on_commit_callbacks, status
):
    moves = make_member(status=status, not_before=timezone.now() + timedelta(hours=5))

    with django_capture_on_commit_callbacks() as callbacks:
        asked = ask_for_update(moves)

    assert asked is Asked.RETRYING_NOW
    assert MovesMember.objects.get().not_before is None
    assert len(callbacks) == 1


def test_ask_for_update_of_a_member_in_trouble_twice_within_the_hour_is_too_soon(make_member):
    moves = make_member(status=Status.FAILING, not_before=timezone.now() + timedelta(hours=5))
    ask_for_update(moves)
    moves.refresh_from_db()

    assert ask_for_update(moves) is Asked.TOO_SOON
