from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sandbox import testing
from sandbox.models import SandboxMovesUser
from sandbox.synthetic import local_today

API = "/api/1.1"
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
        "old",
        first_date=date(2021, 1, 7),
        days=84,
        time_zone="America/Los_Angeles",
        moves_id=17320508075688772,
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
    assert list(body) == ["userId", "profile"]
    assert body["userId"] == moves_user.moves_id
    assert body["userId"] > 2**53
    assert list(body["profile"]) == [
        "firstDate",
        "currentTimeZone",
        "localization",
        "caloriesAvailable",
        "platform",
    ]
    assert body["profile"]["firstDate"] == moves_user.first_date.strftime("%Y%m%d")
    assert body["profile"]["currentTimeZone"]["id"] == moves_user.time_zone
    assert sorted(body["profile"]["localization"]) == ["firstWeekDay", "language", "locale", "metric"]
    assert (body["profile"]["caloriesAvailable"], body["profile"]["platform"]) == (False, "ios")


@pytest.mark.django_db
def test_profile_shows_the_zone_the_user_travelled_to(client, moves_user, moves_access):
    testing.change_time_zone(moves_user, "Asia/Kolkata")
    zone = get(client, API + "/user/profile", moves_access).json()["profile"]["currentTimeZone"]
    assert zone == {"id": "Asia/Kolkata", "offset": 19800}


@pytest.mark.django_db
def test_profile_accepts_the_token_in_the_query_string(client, moves_access):
    assert client.get(API + "/user/profile", {"access_token": moves_access}).status_code == 200


@pytest.mark.django_db
def test_api_without_token_is_401(client):
    response = client.get(API + "/user/profile")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token"}


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
def test_api_revoked_token_is_401(client, moves_user, moves_access):
    testing.revoke_moves_tokens(moves_user)
    assert get(client, API + "/user/profile", moves_access).status_code == 401


@pytest.mark.django_db
def test_storyline_week_answers_seven_days_in_order(client, old_user, old_access):
    response = get(client, STORYLINE + "/2021-W07", old_access, trackPoints="true")
    days = response.json()
    assert response.status_code == 200
    assert [d["date"] for d in days] == [f"202102{n:02d}" for n in range(15, 22)]
    assert days == testing.storyline_days(old_user, date(2021, 2, 15), date(2021, 2, 21))
    assert response["ETag"].startswith('W/"')
    assert response["Last-Modified"].endswith(" GMT")


@pytest.mark.django_db
def test_storyline_week_of_first_date_leaves_out_earlier_days(client, old_access):
    days = get(client, STORYLINE + "/2021-W01", old_access, trackPoints="true").json()
    assert [d["date"] for d in days] == ["20210107", "20210108", "20210109", "20210110"]
    assert days[0] == {"date": "20210107", "summary": None, "segments": None}


@pytest.mark.django_db
def test_storyline_current_week_ends_today(client, moves_user, moves_access):
    today = local_today(moves_user.time_zone)
    days = get(client, STORYLINE + "/" + week_of(today), moves_access).json()
    assert days[-1]["date"] == today.strftime("%Y%m%d")
    assert len(days) == today.isoweekday()


@pytest.mark.django_db
def test_storyline_days_after_the_history_hold_no_data(client, old_access):
    days = get(client, STORYLINE + "/2021-W13", old_access).json()
    assert days[2]["date"] == "20210331"
    assert days[2]["segments"]
    assert days[3] == {"date": "20210401", "summary": None, "segments": None}
    assert days[-1] == {"date": "20210404", "summary": None, "segments": None}


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
def test_storyline_seven_days_with_track_points_is_allowed(client, old_access):
    query = {"from": "20210201", "to": "20210207", "trackPoints": "true"}
    assert len(get(client, STORYLINE, old_access, **query).json()) == 7


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
        {"pastDays": "1", "timeZone": "Mars/Olympus"},
        {},
    ],
)
def test_storyline_bad_range_is_400(client, old_access, query):
    response = get(client, STORYLINE, old_access, **query)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("period", ["2021-W54", "2021-W00", "202102", "2021-02-15", "20211315", "W07"])
def test_storyline_malformed_period_is_400(client, old_access, period):
    assert get(client, STORYLINE + "/" + period, old_access).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    "period_or_query",
    [
        "2020-W53",  # the week before firstDate's week
        "20210106",  # the day before firstDate
        {"from": "20210105", "to": "20210110"},  # starts before firstDate
    ],
)
def test_storyline_before_first_date_is_400(client, old_access, period_or_query):
    if isinstance(period_or_query, dict):
        response = get(client, STORYLINE, old_access, **period_or_query)
    else:
        response = get(client, STORYLINE + "/" + period_or_query, old_access)
    assert response.status_code == 400
    assert "firstDate" in response.json()["error"]


@pytest.mark.django_db
def test_storyline_week_after_the_users_current_week_is_400(client, moves_user, moves_access):
    today = local_today(moves_user.time_zone)
    response = get(client, STORYLINE + "/" + week_of(today + timedelta(days=7)), moves_access)
    assert response.status_code == 400
    first = moves_user.first_date.strftime("%Y%m%d")
    assert response.json() == {
        "error": f"The week must be between the week of firstDate {first} and the current week"
    }


@pytest.mark.django_db
def test_storyline_range_past_the_users_today_is_400(client, moves_user, moves_access):
    today = local_today(moves_user.time_zone)
    query = {"from": f"{today - timedelta(days=2):%Y%m%d}", "to": f"{today + timedelta(days=1):%Y%m%d}"}
    assert get(client, STORYLINE, moves_access, **query).status_code == 400


@pytest.mark.django_db
def test_storyline_today_follows_the_users_zone_not_the_servers(client, moves_user, moves_access):
    testing.change_time_zone(moves_user, "Pacific/Kiritimati")  # UTC+14: ahead of every server
    ahead = local_today("Pacific/Kiritimati")
    assert get(client, STORYLINE + "/" + ahead.strftime("%Y%m%d"), moves_access).status_code == 200
    testing.change_time_zone(moves_user, "Pacific/Pago_Pago")  # UTC-11
    assert get(client, STORYLINE + "/" + ahead.strftime("%Y%m%d"), moves_access).status_code == 400


@pytest.mark.django_db
def test_storyline_past_days_ends_today(client, moves_user, moves_access):
    days = get(client, STORYLINE, moves_access, pastDays="7", trackPoints="true").json()
    today = local_today(moves_user.time_zone)
    assert [d["date"] for d in days] == [(today - timedelta(days=6 - i)).strftime("%Y%m%d") for i in range(7)]


@pytest.mark.django_db
def test_storyline_updated_since_keeps_only_days_updated_since(client, old_user, old_access):
    testing.edit_day(old_user, date(2021, 2, 17))
    days = get(client, STORYLINE + "/2021-W07", old_access).json()
    edited = days[2]["lastUpdate"]
    newer = get(client, STORYLINE + "/2021-W07", old_access, updatedSince=edited).json()
    assert [d["date"] for d in newer] == ["20210217"]
    assert newer[0] == days[2]
    assert get(client, STORYLINE + "/2021-W07", old_access, updatedSince="20210101T000000Z").json() == days


@pytest.mark.django_db
def test_storyline_updated_since_with_an_offset_is_read_as_utc(client, old_access):
    days = get(client, STORYLINE + "/2021-W07", old_access).json()
    latest = max(d["lastUpdate"] for d in days if d.get("lastUpdate"))
    moment = datetime.strptime(latest, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    since = moment.astimezone(timezone(timedelta(hours=2))).strftime("%Y%m%dT%H%M%S%z")
    newer = get(client, STORYLINE + "/2021-W07", old_access, updatedSince=since).json()
    assert {d["lastUpdate"] for d in newer} == {latest}


@pytest.mark.django_db
def test_storyline_carries_etag_and_answers_304_when_unchanged(client, old_access):
    first = get(client, STORYLINE + "/2021-W07", old_access)
    again = client.get(
        STORYLINE + "/2021-W07", HTTP_AUTHORIZATION=f"Bearer {old_access}", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again["X-RateLimit-MinuteLimit"] == "120"


@pytest.mark.django_db
def test_summary_accepts_a_month_and_answers_summaries_only(client, old_access):
    days = get(client, API + "/user/summary/daily/202102", old_access).json()
    assert len(days) == 28
    assert set(days[0]) <= {"date", "summary", "lastUpdate"}
    assert get(client, API + "/user/summary/daily/202012", old_access).status_code == 400


@pytest.mark.django_db
def test_places_answers_place_segments_without_activities(client, old_access):
    days = get(client, API + "/user/places/daily/2021-W07", old_access).json()
    segments = [s for d in days for s in d["segments"] or []]
    assert {s["type"] for s in segments} == {"place"}
    assert all("activities" not in s for s in segments)


@pytest.mark.django_db
def test_activities_answers_segments_with_activities(client, old_access):
    days = get(client, API + "/user/activities/daily/2021-W07", old_access, trackPoints="true").json()
    segments = [s for d in days for s in d["segments"] or []]
    assert segments
    assert all(s["activities"] for s in segments)
    assert any(a["trackPoints"] for s in segments for a in s["activities"])


@pytest.mark.django_db
def test_time_zone_parameter_cuts_days_by_that_zone(client, old_user, old_access):
    tokyo = get(client, STORYLINE + "/20210215", old_access, timeZone="Asia/Tokyo").json()[0]
    assert tokyo["segments"][0]["startTime"].endswith("+0900")
    assert get(client, API + "/user/profile", old_access).json()["profile"]["currentTimeZone"]["id"] == (
        "America/Los_Angeles"
    )
