"""Who may see and change what: members their own data only, staff alone in the admin."""

import pytest
from django.contrib.auth import get_user_model

from main.models import MovesMember, RecentDay


def test_member_sees_only_their_own_dashboard(client, make_member):
    mine = make_member(oh_id="11111111", days_held=3, file_id=1)
    other = make_member(oh_id="22222222", days_held=777, file_id=2)
    RecentDay.objects.create(moves_member=other, date="2024-05-01", steps=98765)
    client.force_login(mine.member.user)

    html = client.get("/dashboard/", {"day": "2024-05-01"}).content.decode()
    status = client.get("/dashboard/status.json").json()

    assert "11111111" in html
    assert "22222222" not in html
    assert "98765" not in html
    assert "777 days" not in html
    assert status["days_held"] == 3


def test_member_actions_touch_only_their_own_row(client, make_member, queued, monkeypatch):
    mine = make_member(oh_id="11111111")
    other = make_member(oh_id="22222222")
    client.force_login(mine.member.user)

    client.post("/update_data/", {"member": other.pk, "oh_id": "22222222"})

    assert queued == ["11111111"]
    other.refresh_from_db()
    assert other.last_submitted is None


def test_staff_account_without_member_has_no_dashboard(client, db):
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    client.force_login(staff)

    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/main/movesmember/", "/admin/open_humans/openhumansmember/"]
)
def test_admin_refuses_members(client, make_member, path):
    client.force_login(make_member().member.user)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_refuses_anonymous(client, db):
    response = client.get("/admin/main/movesmember/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_admits_staff(client, db):
    staff = get_user_model().objects.create_user("staff", is_staff=True, is_superuser=True)
    client.force_login(staff)

    assert client.get("/admin/main/movesmember/").status_code == 200


def test_logout_ends_the_session(signed_in, moves_member):
    session_key = signed_in.session.session_key

    signed_in.post("/logout/")

    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session_key).exists()
    assert signed_in.get("/dashboard/").status_code == 302
    assert MovesMember.objects.count() == 1
