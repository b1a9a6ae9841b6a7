"""The admin for members: columns, filters, actions, status counts, and no tokens."""

import pytest
from django.contrib.auth import get_user_model

from main.models import MovesMember


@pytest.fixture
def staff_client(client, db):
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_admin_changelist_shows_columns_and_counts(staff_client, make_member):
    make_member(
        oh_id="11111111",
        status=MovesMember.Status.BACKFILLING,
        weeks_done=59,
        weeks_total=150,
        file_size=10_516_796,
        last_error="x" * 200,
    )
    make_member(oh_id="22222222", status=MovesMember.Status.CURRENT)

    html = staff_client.get("/admin/main/movesmember/").content.decode()

    assert "11111111" in html
    assert "59/150" in html
    assert "10.5 MB" in html
    assert "x" * 59 + "…" in html
    assert "<strong>Backfilling history</strong>: 1" in html
    assert "<strong>Up to date</strong>: 1" in html
    assert "<strong>Failing</strong>: 0" in html


def test_admin_search_and_filter(staff_client, make_member):
    make_member(oh_id="11111111", status=MovesMember.Status.CURRENT)
    make_member(oh_id="22222222", status=MovesMember.Status.FAILING)

    searched = staff_client.get("/admin/main/movesmember/", {"q": "22222222"})
    filtered = staff_client.get("/admin/main/movesmember/", {"status__exact": "current"})

    assert [m.member.oh_id for m in searched.context["cl"].result_list] == ["22222222"]
    assert [m.member.oh_id for m in filtered.context["cl"].result_list] == ["11111111"]


def test_admin_change_pages_never_show_tokens(staff_client, make_member):
    moves = make_member(oh_id="11111111")

    moves_page = staff_client.get(f"/admin/main/movesmember/{moves.pk}/change/").content.decode()
    member_page = staff_client.get(f"/admin/open_humans/openhumansmember/{moves.member.pk}/change/")

    assert "moves-access-11111111" not in moves_page
    assert "moves-refresh-11111111" not in moves_page
    assert "oh-access-11111111" not in member_page.content.decode()
    assert "oh-refresh-11111111" not in member_page.content.decode()
    assert "Tokens stored" in moves_page


def test_admin_action_queues_updates(staff_client, make_member, queued):
    first, second = make_member(oh_id="11111111"), make_member(oh_id="22222222")

    staff_client.post(
        "/admin/main/movesmember/",
        {"action": "queue_update", "_selected_action": [first.pk, second.pk]},
    )

    assert sorted(queued) == ["11111111", "22222222"]


def test_admin_action_marks_needs_reconnect(staff_client, make_member):
    moves = make_member(oh_id="11111111", status=MovesMember.Status.CURRENT)

    staff_client.post(
        "/admin/main/movesmember/", {"action": "mark_needs_reconnect", "_selected_action": [moves.pk]}
    )

    moves.refresh_from_db()
    assert moves.status == MovesMember.Status.NEEDS_RECONNECT


def test_admin_member_list_searches_by_moves_id(staff_client, make_member):
    make_member(oh_id="11111111", moves_id=777)
    make_member(oh_id="22222222", moves_id=888)

    response = staff_client.get("/admin/open_humans/openhumansmember/", {"q": "777"})

    assert [m.oh_id for m in response.context["cl"].result_list] == ["11111111"]
