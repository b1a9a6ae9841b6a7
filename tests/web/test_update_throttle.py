"""Manual updates: at most one per member per MANUAL_UPDATE_INTERVAL_SECONDS, decided by the server."""

from datetime import timedelta

from django.utils import timezone

from main.dashboard import claim_manual_update
from main.models import MovesMember


def test_update_data_queues_the_first_request(signed_in, moves_member, queued):
    response = signed_in.post("/update_data/")

    assert response.status_code == 302
    assert queued == ["23456789"]
    moves_member.refresh_from_db()
    assert moves_member.last_submitted is not None


def test_update_data_refuses_a_second_request_within_the_interval(signed_in, moves_member, queued):
    signed_in.post("/update_data/")
    # The page disables the button now; a request sent anyway must still be refused.
    response = signed_in.post("/update_data/", follow=True)

    assert queued == ["23456789"]
    assert b"An update was asked for recently" in response.content
    assert b"You can ask again in" in response.content


def test_update_data_allows_a_request_after_the_interval(signed_in, moves_state, queued, settings):
    moves_state(
        last_submitted=timezone.now() - timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS + 1)
    )

    signed_in.post("/update_data/")

    assert queued == ["23456789"]


def test_update_data_refuses_a_member_who_must_reconnect(signed_in, moves_state, queued):
    moves_state(status=MovesMember.Status.NEEDS_RECONNECT)

    response = signed_in.post("/update_data/", follow=True)

    assert queued == []
    assert b"Connect Moves first" in response.content


def test_claim_manual_update_lets_one_of_two_stale_copies_through(moves_member):
    # Two requests that loaded the row before either wrote: only one may win.
    first = MovesMember.objects.get(pk=moves_member.pk)
    second = MovesMember.objects.get(pk=moves_member.pk)

    assert [claim_manual_update(first), claim_manual_update(second)] == [True, False]
