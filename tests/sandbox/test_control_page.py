"""The control page at / of the stand-in: every action answers with a redirect and says what it did."""

from datetime import date

import pytest

from sandbox import testing
from sandbox.models import Deauthorization, SandboxMovesUser, StorylineUpdate, Switches


def act(client, **form):
    """Post one action and follow the redirect; returns the page's feedback messages."""
    response = client.post("/", form, follow=True)
    assert response.redirect_chain == [("/", 302)]
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def walker(db) -> SandboxMovesUser:
    return testing.create_moves_user(
        "walker", first_date=date(2021, 1, 7), days=84, city="frankfurt", moves_id=14142135623730950
    )


@pytest.mark.django_db
def test_control_page_lists_users_members_and_switches(client, walker, oh_member):
    html = client.get("/").content.decode()
    assert "walker" in html
    assert oh_member.project_member_id in html
    for action in (
        "add_day",
        "change_zone",
        "go_offline",
        "edit_day",
        "rename_place",
        "drop_notifications",
        "share_other_source",
        "leave_project",
        "revoke_moves",
    ):
        assert f'value="{action}"' in html


@pytest.mark.django_db
def test_control_page_creates_a_moves_user(client):
    form = {
        "action": "create_user",
        "user-name": "ferdinand",
        "user-first_date": "2016-06-16",
        "user-days": "100",
        "user-city": "frankfurt",
        "user-time_zone": "America/Los_Angeles",
    }
    response = client.post("/", form)
    user = SandboxMovesUser.objects.get(name="ferdinand")
    assert response.status_code == 302
    assert (user.first_date, user.last_date, user.city, user.time_zone) == (
        date(2016, 6, 16),
        date(2016, 9, 23),
        "frankfurt",
        "America/Los_Angeles",
    )


@pytest.mark.django_db
def test_control_page_refuses_a_taken_user_name(client, walker):
    response = client.post("/", {"action": "create_user", "user-name": "walker"})
    assert response.status_code == 200
    assert "exists already" in response.content.decode()
    assert SandboxMovesUser.objects.count() == 1


@pytest.mark.django_db
def test_control_page_revokes_access_and_says_how_many_tokens(client, walker):
    access = [testing.issue_moves_tokens(walker)[0] for _ in range(3)]
    assert act(client, action="revoke_moves", user=walker.pk) == ["Revoked access of walker (3 tokens)"]
    assert client.get("/api/1.1/user/profile", HTTP_AUTHORIZATION=f"Bearer {access[0]}").status_code == 401


@pytest.mark.django_db
def test_control_page_changes_the_zone(client, walker):
    assert act(client, action="change_zone", user=walker.pk, time_zone="Asia/Tokyo") == [
        "walker is now in Asia/Tokyo; every day is cut by that zone"
    ]
    walker.refresh_from_db()
    assert walker.time_zone == "Asia/Tokyo"


@pytest.mark.django_db
def test_control_page_takes_the_phone_offline_and_syncs_it(client, walker):
    [offline] = act(client, action="go_offline", user=walker.pk, days="3")
    walker.refresh_from_db()
    [synced] = act(client, action="sync_phone", user=walker.pk)
    assert offline.startswith("walker's phone is offline since 2021-03-28 ")
    assert synced.startswith("walker's phone synced what it recorded since 2021-03-28 ")
    assert StorylineUpdate.objects.get().payload["reason"] == "DataUpload"


@pytest.mark.django_db
def test_control_page_edits_renames_and_adds_a_day(client, walker):
    home = testing.places(walker)[0]
    [edited] = act(client, action="edit_day", user=walker.pk, day="2021-02-16")
    [renamed] = act(client, action="rename_place", user=walker.pk, place=str(home.id), name="Lore")
    [added] = act(client, action="add_day", user=walker.pk)
    assert edited.startswith("Edited walker's 2021-02-16: ")
    assert renamed == f"Renamed walker's place {home.id} to 'Lore'"
    assert added == "Added 2021-04-01 to walker's history"
    assert [u.payload["reason"] for u in StorylineUpdate.objects.order_by("id")] == [
        "DataUpload",
        "PlaceRename",
        "DataUpload",
    ]


@pytest.mark.django_db
def test_control_page_says_why_a_change_is_refused(client, walker):
    assert act(client, action="sync_phone", user=walker.pk) == [
        "walker's phone is online; nothing waits to be uploaded."
    ]
    assert act(client, action="edit_day", user=walker.pk, day="not a day") == [
        "Day (YYYY-MM-DD): Enter a valid date."
    ]


@pytest.mark.django_db
def test_control_page_drops_the_next_notifications(client):
    assert act(client, action="drop_notifications", count="2") == ["The next 2 notifications will be dropped"]
    assert Switches.get().drop_notifications == 2


@pytest.mark.django_db
def test_control_page_member_leaves_the_project(client, oh_member, oh_access):
    testing.issue_oh_tokens(oh_member)
    messages = act(client, action="leave_project", member=oh_member.pk, erasure_requested="on")
    oh_member.refresh_from_db()
    assert messages == [
        "olivia left the project asking for erasure: revoked 2 tokens, deauthorisation webhook queued"
    ]
    assert oh_member.active is False
    assert Deauthorization.objects.get().erasure_requested is True
    assert (
        client.get(
            "/api/direct-sharing/project/exchange-member/", HTTP_AUTHORIZATION=f"Bearer {oh_access}"
        ).status_code
        == 401
    )


@pytest.mark.django_db
def test_control_page_shares_and_unshares_the_other_projects_file(client, oh_member):
    on = act(client, action="share_other_source", member=oh_member.pk, on="1")
    off = act(client, action="share_other_source", member=oh_member.pk, on="0")
    assert on == ["olivia now shares direct-sharing-128 (and its moves-storyline-data.json)"]
    assert off == ["olivia no longer shares direct-sharing-128"]


@pytest.mark.django_db
def test_control_page_unknown_user_is_an_error_message(client):
    assert act(client, action="add_day", user="999") == ["No such Moves user."]
