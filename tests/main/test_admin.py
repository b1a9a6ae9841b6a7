"""The operators' admin: lists that never decrypt a token, the queue at a glance, and two repair actions."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import MovesMember, Priority, RecentDay

Status = MovesMember.Status
MOVES_LIST = "/admin/core/movesmember/"
OH_LIST = "/admin/open_humans/openhumansmember/"


@pytest.fixture
def staff(client, db):
    user = get_user_model().objects.create_user("operator", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def listed(response) -> list[str]:
    return sorted(
        getattr(row, "oh_id", None) or row.member.oh_id for row in response.context["cl"].result_list
    )


def test_the_moves_list_shows_where_each_member_stands(staff, make_member):
    make_member(
        "11111111",
        status=Status.BACKFILLING,
        weeks_done=59,
        weeks_total=150,
        file_size=10_516_796,
        last_error="x" * 200,
    )
    make_member("22222222", status=Status.CURRENT)

    html = staff.get(MOVES_LIST).content.decode()

    assert '<td class="field-weeks">59/150</td>' in html
    assert "10.5\xa0MB" in html or "10.5 MB" in html
    assert "x" * 49 + "…" in html
    assert "<strong>Fetching your history</strong>: 1" in html
    assert "<strong>Up to date</strong>: 1" in html
    assert "<strong>Failing</strong>: 0" in html


def test_the_moves_list_shows_the_queue_and_quota(staff, make_member, redis_db):
    make_member("11111111", sync_wanted_since=timezone.now(), requests_wanted=40)
    make_member("22222222", lease_until=timezone.now() + timedelta(minutes=1))

    html = staff.get(MOVES_LIST).content.decode()

    assert "1 member waiting for quota, 1 running," in html
    assert "40 requests still wanted" in html


def test_the_moves_list_searches_and_filters(staff, make_member):
    make_member("11111111", status=Status.CURRENT, moves_id=777)
    make_member("22222222", status=Status.FAILING)

    assert listed(staff.get(MOVES_LIST, {"q": "22222222"})) == ["22222222"]
    assert listed(staff.get(MOVES_LIST, {"q": "777"})) == ["11111111"]
    assert listed(staff.get(MOVES_LIST, {"status__exact": "current"})) == ["11111111"]


def test_lists_load_no_token(staff, make_member, django_assert_max_num_queries):
    for n in range(5):
        make_member(str(11111111 + n))

    # A list that decrypted tokens would load each related row: the query count would grow.
    for url in (MOVES_LIST, OH_LIST):
        with django_assert_max_num_queries(12):
            assert staff.get(url).status_code == 200


def test_a_row_whose_token_no_key_decrypts_still_lists(staff, make_member, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old_key]
    make_member("11111111")
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    make_member("22222222")

    moves_list = staff.get(MOVES_LIST)
    oh_list = staff.get(OH_LIST)

    assert (moves_list.status_code, listed(moves_list)) == (200, ["11111111", "22222222"])
    assert (oh_list.status_code, listed(oh_list)) == (200, ["11111111", "22222222"])


def test_a_member_whose_token_no_key_decrypts_can_still_be_opened(staff, make_member, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    moves = make_member("11111111")
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert staff.get(f"{MOVES_LIST}{moves.pk}/change/").status_code == 200
    assert staff.get(f"{OH_LIST}{moves.member_id}/change/").status_code == 200


def test_change_pages_never_show_a_token(staff, make_member):
    moves = make_member("11111111")

    moves_page = staff.get(f"{MOVES_LIST}{moves.pk}/change/").content.decode()
    member_page = staff.get(f"{OH_LIST}{moves.member_id}/change/").content.decode()

    shown = [
        token
        for token in (
            "moves-access-11111111",
            "moves-refresh-11111111",
            "oh-access-11111111",
            "oh-refresh-11111111",
        )
        if token in moves_page or token in member_page
    ]
    assert shown == []
    assert ("Tokens stored" in moves_page, "Tokens stored" in member_page) == (True, True)


def test_the_open_humans_list_shows_the_moves_status(staff, make_member):
    make_member("11111111", status=Status.RETRYING)
    make_member("22222222").delete()

    html = staff.get(OH_LIST).content.decode()

    assert '<td class="field-moves_status">retrying</td>' in html
    assert '<td class="field-moves_status">not connected</td>' in html
    assert listed(staff.get(OH_LIST, {"moves_member__status": "retrying"})) == ["11111111"]


def test_queue_update_asks_for_an_update_of_every_syncable_member_chosen(
    staff, make_member, django_capture_on_commit_callbacks
):
    first = make_member("11111111", status=Status.CURRENT)
    second = make_member("22222222", status=Status.CURRENT)
    cannot = make_member("33333333", status=Status.NEEDS_RECONNECT)

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff.post(
            MOVES_LIST,
            {"action": "queue_update", "_selected_action": [first.pk, second.pk, cannot.pk]},
            follow=True,
        )

    assert "Queued an update for 2 member(s)." in response.content.decode()
    wanted = dict(MovesMember.objects.values_list("member__oh_id", "sync_priority"))
    queued = set(
        MovesMember.objects.filter(sync_wanted_since__isnull=False).values_list("member__oh_id", flat=True)
    )
    assert (queued, wanted["11111111"], wanted["22222222"]) == (
        {"11111111", "22222222"},
        Priority.UPDATE,
        Priority.UPDATE,
    )
    assert len(callbacks) == 1


def test_mark_needs_reconnect_stops_every_wait(staff, make_member):
    moves = make_member(
        "11111111",
        status=Status.BACKFILLING,
        sync_wanted_since=timezone.now(),
        next_batch_at=timezone.now() + timedelta(minutes=1),
        not_before=timezone.now() + timedelta(minutes=1),
    )

    response = staff.post(
        MOVES_LIST, {"action": "mark_needs_reconnect", "_selected_action": [moves.pk]}, follow=True
    )

    assert "Marked 1 member(s) as needing to reconnect Moves." in response.content.decode()
    stored = MovesMember.objects.get(pk=moves.pk)
    assert (stored.status, stored.sync_wanted_since, stored.next_batch_at, stored.not_before) == (
        Status.NEEDS_RECONNECT,
        None,
        None,
        None,
    )
    assert (stored.error_service, stored.last_error) == (
        "Moves",
        "An operator asked you to connect Moves again.",
    )


def test_the_recent_days_list_names_the_member(staff, make_member):
    moves = make_member("11111111")
    RecentDay.objects.create(moves_member=moves, date="2024-05-01", steps=4321)

    response = staff.get("/admin/core/recentday/")

    assert [getattr(day, "member_oh_id", None) for day in response.context["cl"].result_list] == ["11111111"]
    assert ">11111111</a></th>" in response.content.decode()
