"""Who may see and change what: a member only their own data, staff alone in the admin."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model

from core.models import MovesMember, RecentDay
from tests.connected import unreachable_url

DAY = date(2024, 5, 1)


@pytest.fixture
def two_members(make_member):
    mine = make_member(oh_id="11111111", days_held=3, file_id=1)
    other = make_member(oh_id="22222222", days_held=777, file_id=2, weeks_done=59, weeks_total=150)
    RecentDay.objects.create(moves_member=other, date=DAY, steps=98765, places=[{"name": "Secret Garden"}])
    return mine, other


def test_a_member_sees_only_their_own_dashboard(client, two_members, no_upstream):
    mine, _ = two_members
    client.force_login(mine.member.user)

    html = client.get("/dashboard/", {"day": DAY.isoformat()}).content.decode()
    status = client.get("/dashboard/status.json").json()

    assert [text for text in ("22222222", "98765", "98,765", "Secret Garden", "777") if text in html] == []
    assert (status["days_held"], status["weeks_total"]) == (3, 0)


def test_a_member_cannot_read_another_members_day(client, two_members, no_upstream):
    mine, other = two_members
    client.force_login(mine.member.user)

    response = client.get(f"/dashboard/day/{DAY.isoformat()}.json")

    assert response.status_code == 404
    assert b"98765" not in response.content
    client.force_login(other.member.user)
    assert client.get(f"/dashboard/day/{DAY.isoformat()}.json").json()["steps"] == 98765


def test_a_members_actions_touch_only_their_own_row(client, two_members):
    mine, other = two_members
    client.force_login(mine.member.user)
    before = MovesMember.objects.filter(pk=other.pk).values().get()

    client.post("/update_data/", {"member": other.pk, "oh_id": "22222222", "pk": other.pk})

    assert MovesMember.objects.get(pk=mine.pk).last_submitted is not None
    assert MovesMember.objects.filter(pk=other.pk).values().get() == before


def test_disconnecting_removes_only_ones_own_connection(client, two_members, settings):
    mine, other = two_members
    settings.OH_BASE_URL = unreachable_url()
    settings.OH_SOURCE_LABEL = "direct-sharing-138"
    client.force_login(mine.member.user)

    client.post("/remove_moves/", {"member": other.pk, "oh_id": "22222222"})

    assert list(MovesMember.objects.values_list("member__oh_id", flat=True)) == ["22222222"]
    assert RecentDay.objects.filter(moves_member=other).count() == 1


def test_a_staff_account_without_a_member_has_no_dashboard(client, db):
    client.force_login(get_user_model().objects.create_user("staff", is_staff=True))

    response = client.get("/dashboard/")

    assert (response.status_code, response["Location"]) == (302, "/?next=/dashboard/")


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/status.json", "/download/", "/remove_moves/"])
def test_member_pages_need_a_sign_in(client, db, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/?next={path}")


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/core/movesmember/", "/admin/open_humans/openhumansmember/"]
)
def test_the_admin_refuses_members_and_strangers(client, make_member, path):
    assert client.get(path)["Location"].startswith("/admin/login/")

    client.force_login(make_member().member.user)

    assert client.get(path)["Location"].startswith("/admin/login/")


def test_the_admin_admits_staff(client, db):
    client.force_login(get_user_model().objects.create_user("staff", is_staff=True, is_superuser=True))

    assert client.get("/admin/core/movesmember/").status_code == 200
