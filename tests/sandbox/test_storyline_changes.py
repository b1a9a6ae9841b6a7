"""Days keep changing after they end: travels, late uploads, added days, edits and renames."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from sandbox import testing
from sandbox.models import SandboxMovesUser, StorylineUpdate

STORYLINE = "/api/1.1/user/storyline/daily"


@pytest.fixture
def user(db) -> SandboxMovesUser:
    """Lives in Frankfurt, is there; a finished history 2021-01-07..2021-03-31."""
    return testing.create_moves_user(
        "mia", first_date=date(2021, 1, 7), days=84, city="frankfurt", moves_id=14142135623730950
    )


@pytest.fixture
def access(user) -> str:
    return testing.issue_moves_tokens(user)[0]


def week(client, access: str, period: str = "2021-W07", **query) -> list[dict]:
    return client.get(f"{STORYLINE}/{period}", query, HTTP_AUTHORIZATION=f"Bearer {access}").json()


def utc(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


@pytest.mark.django_db
def test_a_zone_change_recuts_every_day(client, user, access):
    before = week(client, access)
    testing.change_time_zone(user, "America/New_York")
    after = week(client, access)
    assert before[0]["segments"][0]["startTime"][-5:] == "+0100"
    assert after[0]["segments"][0]["startTime"][-5:] == "-0500"
    assert [d["date"] for d in after] == [d["date"] for d in before]
    assert before != after
    assert StorylineUpdate.objects.count() == 0


@pytest.mark.django_db
def test_a_zone_change_keeps_home_where_it_is(client, user, access):
    def homes(days):
        return {
            (s["place"]["id"], s["place"]["location"]["lat"], s["place"]["location"]["lon"])
            for d in days
            for s in d["segments"]
            if s["type"] == "place" and s["place"]["type"] == "home"
        }

    before = homes(week(client, access))
    testing.change_time_zone(user, "America/Los_Angeles")
    assert homes(week(client, access)) == before


@pytest.mark.django_db
def test_an_edit_changes_the_activity_and_bumps_last_update(client, user, access):
    before = week(client, access)
    update = testing.edit_day(user, date(2021, 2, 16))
    after = week(client, access)
    changed = [d["date"] for d, e in zip(before, after, strict=True) if d != e]
    edited = after[1]
    assert changed == ["20210216"]
    assert edited["lastUpdate"] >= utc(timezone.now() - timedelta(minutes=1))
    manual = [a for s in edited["segments"] for a in s.get("activities", []) if a["manual"]]
    assert manual
    assert update["reason"] == "DataUpload"
    assert StorylineUpdate.objects.get().payload == update


@pytest.mark.django_db
def test_an_edit_of_a_day_without_activities_is_refused(user):
    with pytest.raises(ValueError, match="no activity on 2021-01-07"):
        testing.edit_day(user, date(2021, 1, 7))


@pytest.mark.django_db
def test_a_rename_changes_every_day_where_the_place_appears(client, user, access):
    home = testing.places(user)[0]
    before = week(client, access)
    update = testing.rename_place(user, home.id, "Lore")
    after = week(client, access)
    homes = [s for d in after for s in d["segments"] if s["type"] == "place" and s["place"]["id"] == home.id]
    now = utc(timezone.now() - timedelta(minutes=1))
    assert homes
    assert {s["place"]["name"] for s in homes} == {"Lore"}
    assert all(s["lastUpdate"] >= now for s in homes)
    assert all(d["lastUpdate"] >= now for d in after)
    assert before[0]["date"] == after[0]["date"]
    assert update["reason"] == "PlaceRename"
    assert update["startTime"][:8] == "20210108"
    # The history ends at midnight of 2021-03-31 in Berlin (summer time).
    assert update["endTime"] == "20210331T220000Z"


@pytest.mark.django_db
def test_naming_an_unknown_place_makes_it_the_users_own(client, user, access):
    park = next(p for p in testing.places(user) if p.type == "unknown")
    update = testing.rename_place(user, park.id, "Our park")
    first_visit = update["startTime"][:8]
    days = client.get(f"{STORYLINE}/{first_visit}", HTTP_AUTHORIZATION=f"Bearer {access}").json()
    named = [s["place"] for d in days for s in d["segments"] if s.get("place", {}).get("id") == park.id]
    assert update["reason"] == "PlaceUpdate"
    assert named
    assert {(p["type"], p["name"]) for p in named} == {("user", "Our park")}


@pytest.mark.django_db
def test_an_offline_phone_hides_its_last_days_until_it_syncs(client, user, access):
    before = week(client, access, "2021-W13")
    earlier = week(client, access, "2021-W12")
    testing.go_offline(user, 2)
    offline = week(client, access, "2021-W13")
    update = testing.sync_phone(user)
    synced = week(client, access, "2021-W13")
    now = utc(timezone.now() - timedelta(minutes=1))
    assert [d["date"] for d in offline] == [d["date"] for d in before]
    assert offline[2] == {"date": "20210331", "summary": None, "segments": None}
    assert offline[0]["segments"]
    assert synced[2]["segments"] == [
        {**s, "lastUpdate": synced[2]["segments"][i]["lastUpdate"]}
        for i, s in enumerate(before[2]["segments"])
    ]
    assert synced[2]["lastUpdate"] >= now
    assert week(client, access, "2021-W12") == earlier
    assert update["reason"] == "DataUpload"
    assert update["startTime"] < "20210330"
    assert update["endTime"] == "20210331T220000Z"


@pytest.mark.django_db
def test_an_offline_phone_cannot_go_offline_twice_and_an_online_one_cannot_sync(user):
    with pytest.raises(ValueError, match="online"):
        testing.sync_phone(user)
    testing.go_offline(user, 1)
    with pytest.raises(ValueError, match="offline already"):
        testing.go_offline(user, 1)


@pytest.mark.django_db
def test_adding_a_day_extends_the_history_with_a_fresh_last_update(client, user, access):
    before = week(client, access, "2021-W13")
    update = testing.add_day(user)
    after = week(client, access, "2021-W13")
    now = utc(timezone.now() - timedelta(minutes=1))
    assert user.last_date == date(2021, 4, 1)
    assert before[3] == {"date": "20210401", "summary": None, "segments": None}
    assert after[3]["segments"]
    assert after[3]["lastUpdate"] >= now
    assert after[2]["lastUpdate"] >= now  # its last stay went on into the new day
    assert after[1] == before[1]
    assert update["reason"] == "DataUpload"
    assert update["endTime"] == "20210401T220000Z"


@pytest.mark.django_db
def test_adding_a_day_stops_at_the_users_today(db):
    growing = testing.create_moves_user("grows", days=10)
    finished = testing.create_moves_user(
        "done", first_date=date.today() - timedelta(days=3), days=5, time_zone="UTC"
    )
    with pytest.raises(ValueError, match="grows with the clock"):
        testing.add_day(growing)
    with pytest.raises(ValueError, match="already reaches"):
        testing.add_day(finished)
