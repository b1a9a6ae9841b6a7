from datetime import date, timedelta

import pytest

from sandbox import testing
from sandbox.models import SandboxMovesUser
from sandbox.synthetic import local_today

API = "/sandbox/moves/api/1.1"
STORYLINE = API + "/user/storyline/daily"


def get(client, path: str, token: str, **query):
    return client.get(path, query, HTTP_AUTHORIZATION=f"Bearer {token}")


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@pytest.fixture
def old_user(db) -> SandboxMovesUser:
    """A finished history: 2021-01-07 (a Thursday) to 2021-03-31."""
    return testing.create_moves_user(
        "old", first_date=date(2021, 1, 7), days=84, time_zone="America/Los_Angeles"
    )


@pytest.fixture
def old_access(old_user) -> str:
    return testing.issue_moves_tokens(old_user)[0]


@pytest.mark.django_db
def test_profile_answers_the_real_shape(client, moves_user, moves_access):
    response = get(client, API + "/user/profile", moves_access)
    body = response.json()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert body["userId"] == moves_user.moves_id
    assert body["profile"]["firstDate"] == moves_user.first_date.strftime("%Y%m%d")
    assert body["profile"]["currentTimeZone"]["id"] == moves_user.time_zone
    assert isinstance(body["profile"]["currentTimeZone"]["offset"], int)
    assert sorted(body["profile"]["localization"]) == ["firstWeekDay", "language", "locale", "metric"]


@pytest.mark.django_db
def test_profile_accepts_the_token_in_the_query_string(client, moves_access):
    response = client.get(API + "/user/profile", {"access_token": moves_access})
    assert response.status_code == 200


@pytest.mark.django_db
def test_api_without_token_is_401(client):
    assert client.get(API + "/user/profile").status_code == 401


@pytest.mark.django_db
def test_api_unknown_token_is_401(client):
    assert get(client, API + "/user/profile", "made-up").status_code == 401


@pytest.mark.django_db
def test_api_expired_token_is_401(client, moves_user):
    expired, _ = testing.issue_moves_tokens(moves_user, expires_in=-1)
    response = get(client, STORYLINE + "/" + week_of(date.today()), expired)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token"}


@pytest.mark.django_db
def test_storyline_week_answers_seven_days_in_order(client, old_user, old_access):
    response = get(client, STORYLINE + "/2021-W07", old_access, trackPoints="true")
    days = response.json()
    assert response.status_code == 200
    assert [d["date"] for d in days] == [f"202102{n:02d}" for n in range(15, 22)]
    points = [
        p
        for d in days
        for s in d["segments"] or []
        for a in s.get("activities", [])
        for p in a["trackPoints"]
    ]
    assert len(points) > 100
    assert days == testing.storyline_days(old_user, date(2021, 2, 15), date(2021, 2, 21))


@pytest.mark.django_db
def test_storyline_week_leaves_out_days_before_first_date(client, old_access):
    days = get(client, STORYLINE + "/2021-W01", old_access, trackPoints="true").json()
    assert [d["date"] for d in days] == ["20210107", "20210108", "20210109", "20210110"]


@pytest.mark.django_db
def test_storyline_week_leaves_out_days_after_today(client, moves_user, moves_access):
    today = local_today(moves_user.time_zone)
    days = get(client, STORYLINE + "/" + week_of(today), moves_access).json()
    assert days[-1]["date"] == today.strftime("%Y%m%d")
    assert len(days) == today.isoweekday()


@pytest.mark.django_db
def test_storyline_days_after_the_history_hold_no_data(client, old_access):
    days = get(client, STORYLINE + "/2021-W13", old_access).json()
    assert days[-1] == {"date": "20210404", "summary": None, "segments": None}
    assert days[2]["date"] == "20210331"
    assert days[3] == {"date": "20210401", "summary": None, "segments": None}


@pytest.mark.django_db
def test_storyline_day_answers_a_list_of_one(client, old_access):
    days = get(client, STORYLINE + "/20210215", old_access).json()
    assert [d["date"] for d in days] == ["20210215"]


@pytest.mark.django_db
def test_storyline_without_track_points_has_no_track_points(client, old_access):
    days = get(client, STORYLINE + "/2021-W07", old_access).json()
    activities = [a for d in days for s in d["segments"] or [] for a in s.get("activities", [])]
    assert activities
    assert all("trackPoints" not in a for a in activities)


@pytest.mark.django_db
def test_storyline_range_of_31_days_is_allowed(client, old_access):
    days = get(client, STORYLINE, old_access, **{"from": "20210201", "to": "20210303"}).json()
    assert len(days) == 31


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"from": "20210201", "to": "20210304"},
        {"from": "20210201", "to": "20210208", "trackPoints": "true"},
        {"from": "20210210", "to": "20210201"},
        {"from": "20210201"},
        {"from": "2021-02-01", "to": "20210202"},
        {"from": "20210230", "to": "20210301"},
        {"pastDays": "32"},
        {"pastDays": "8", "trackPoints": "true"},
        {"pastDays": "0"},
        {"pastDays": "x"},
        {"pastDays": "3", "from": "20210201", "to": "20210202"},
        {"trackPoints": "maybe", "pastDays": "1"},
        {"pastDays": "1", "updatedSince": "yesterday"},
        {},
    ],
)
def test_storyline_bad_range_is_400(client, old_access, query):
    response = get(client, STORYLINE, old_access, **query)
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("period", ["2021-W54", "2021-W00", "202102", "2021-02-15", "20211315", "W07"])
def test_storyline_malformed_period_is_400(client, old_access, period):
    assert get(client, STORYLINE + "/" + period, old_access).status_code == 400


@pytest.mark.django_db
def test_storyline_seven_days_with_track_points_is_allowed(client, old_access):
    days = get(
        client, STORYLINE, old_access, trackPoints="true", **{"from": "20210201", "to": "20210207"}
    ).json()
    assert len(days) == 7


@pytest.mark.django_db
def test_storyline_past_days_ends_today(client, moves_user, moves_access):
    days = get(client, STORYLINE, moves_access, pastDays="7", trackPoints="true").json()
    today = local_today(moves_user.time_zone)
    assert [d["date"] for d in days] == [(today - timedelta(days=6 - i)).strftime("%Y%m%d") for i in range(7)]


@pytest.mark.django_db
def test_storyline_updated_since_keeps_only_newer_days(client, old_access):
    days = get(client, STORYLINE + "/2021-W07", old_access).json()
    updates = sorted(d["lastUpdate"] for d in days if d.get("lastUpdate"))
    since = updates[3]
    newer = get(client, STORYLINE + "/2021-W07", old_access, updatedSince=since).json()
    assert {d["lastUpdate"] for d in newer} == set(updates[3:])


@pytest.mark.django_db
def test_storyline_carries_etag_and_answers_304_when_unchanged(client, old_access):
    first = get(client, STORYLINE + "/2021-W07", old_access)
    assert first["Last-Modified"]
    again = client.get(
        STORYLINE + "/2021-W07", HTTP_AUTHORIZATION=f"Bearer {old_access}", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 304
    assert again.content == b""
