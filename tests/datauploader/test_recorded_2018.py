"""A member imported from the 2018 uploader, replayed through ``import_users`` and a worker run.

The traffic follows the recording the spec describes (Open Humans and Moves
refreshes, exchange-member, the profile, storyline weeks 2016-W24 and W25,
the three-step upload): the same requests, statuses and headers (Moves'
doubled limits right after a refresh, ``Date`` of 25 April 2018), and days
of the same shape (firstDate 16 June with null summary and segments,
segments crossing midnight, offsets of -0700 with coordinates in
Frankfurt, ``lastUpdate`` from 2017). The recording itself is another
project's data, so the cassette is written here from those facts.

Time is frozen at noon UTC on 24 June 2016, the day the recording asks for,
so the Moves answer holds two days (25 and 26 June) that our clock calls
the future: they are uploaded all the same.
"""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
import vcr
import yaml
from django.core.management import call_command

from core.days import HAS_DATA, NO_DATA, calendar
from core.models import MovesMember

MOVES = "https://api.moves-app.com"
OH = "https://www.openhumans.org"
RECORDING_DAY = datetime(2016, 6, 24, 12, 0, 30, tzinfo=UTC)
W24 = ["20160616", "20160617", "20160618", "20160619"]
W25 = ["20160620", "20160621", "20160622", "20160623", "20160624", "20160625", "20160626"]


def segment_day(text: str, last_update: str) -> dict[str, Any]:
    """A storyline day as the recording has them: it starts on the previous date at home."""
    day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    previous = f"{day.toordinal() - 1}"
    yesterday = date.fromordinal(int(previous)).strftime("%Y%m%d")
    home = {
        "id": 295966906,
        "name": "Home",
        "type": "home",
        "location": {"lat": 50.06094381015026, "lon": 8.818717416731287},
    }
    cafe = {
        "id": 295634612,
        "name": "Cafe am Markt",
        "type": "facebook",
        "facebookPlaceId": "176516302364925",
        "location": {"lat": 50.11231244, "lon": 8.68352931},
    }
    points = [
        {"lat": 50.06094381015026, "lon": 8.818717416731287, "time": f"{text}T081502-0700"},
        {"lat": 50.0904213, "lon": 8.7512244, "time": f"{text}T082212-0700"},
        {"lat": 50.11231244, "lon": 8.68352931, "time": f"{text}T083951-0700"},
    ]
    return {
        "date": text,
        "summary": [
            {"activity": "walking", "group": "walking", "duration": 2400.0, "distance": 1759.0, "steps": 992},
            {"activity": "car", "group": "transport", "duration": 926.0, "distance": 9432.0},
        ],
        "segments": [
            {
                "type": "place",
                "startTime": f"{yesterday}T231148-0700",
                "endTime": f"{text}T081448-0700",
                "place": home,
                "lastUpdate": last_update,
            },
            {
                "type": "move",
                "startTime": f"{text}T081502-0700",
                "endTime": f"{text}T083951-0700",
                "activities": [
                    {
                        "activity": "car",
                        "group": "transport",
                        "manual": True,
                        "startTime": f"{text}T081502-0700",
                        "endTime": f"{text}T083951-0700",
                        "duration": 1489.0,
                        "distance": 9432.0,
                        "trackPoints": points,
                    }
                ],
                "lastUpdate": last_update,
            },
            {
                "type": "place",
                "startTime": f"{text}T083958-0700",
                "endTime": f"{text}T235959-0700",
                "place": cafe,
                "lastUpdate": last_update,
            },
        ],
        "caloriesIdle": 1785,
        "lastUpdate": last_update,
    }


def week_answer(days: list[str]) -> list[dict[str, Any]]:
    updates = ["20170412T074118Z", "20170529T203310Z", "20170215T094955Z", "20170408T180504Z"]
    answer = []
    for number, text in enumerate(days):
        if text == "20160616":
            answer.append({"date": text, "summary": None, "segments": None})
        else:
            answer.append(segment_day(text, updates[number % len(updates)]))
    return answer


def expected_file() -> bytes:
    """The file every day answered makes: the days exactly as sent, in date order, as one JSON list."""
    days = week_answer(W24) + week_answer(W25)
    return b"[" + b",".join(json.dumps(day, separators=(",", ":")).encode() for day in days) + b"]"


def moves_headers(remaining: int) -> dict[str, list[str]]:
    return {
        "Content-Type": ["application/json; charset=utf-8"],
        "Date": ["Wed, 25 Apr 2018 20:33:40 GMT"],
        "X-RateLimit-HourLimit": ["4000"],
        "X-RateLimit-HourRemaining": [str(3900 + remaining)],
        "X-RateLimit-MinuteLimit": ["120"],
        "X-RateLimit-MinuteRemaining": [str(remaining)],
    }


def json_headers() -> dict[str, list[str]]:
    return {"Content-Type": ["application/json"], "Date": ["Wed, 25 Apr 2018 20:33:39 GMT"]}


def interaction(
    method: str, uri: str, status: int, body: Any, headers: dict[str, list[str]]
) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "request": {"method": method, "uri": uri, "body": None, "headers": {}},
        "response": {
            "status": {"code": status, "message": "OK"},
            "headers": headers,
            "body": {"string": text},
        },
    }


def exchange_member_2018() -> dict[str, Any]:
    return {
        "created": "2018-01-19T21:55:40.049169Z",
        "project_member_id": "23456789",
        "message_permission": True,
        "sources_shared": [],
        "data": [],
    }


def exchange_member_today() -> dict[str, Any]:
    # No message_permission since 2019; pagination; another project's file of the same name.
    return {
        "count": 1,
        "next": None,
        "previous": None,
        "created": "2018-01-19T21:55:40.049169Z",
        "project_member_id": "23456789",
        "sources_shared": ["direct-sharing-128"],
        "data": [
            {
                "id": 51002,
                "basename": "moves-storyline-data.json",
                "created": "2019-02-01T10:00:00Z",
                "download_url": "https://storage.example/another-project/moves-storyline-data.json?sig=x",
                "metadata": {"description": "another project's file", "tags": ["Moves"]},
                "source": "direct-sharing-128",
            }
        ],
    }


def cassette(path: Path, exchange_member: dict[str, Any], with_project: bool) -> Path:
    upload_url = (
        "https://myawslink.com/member-files/direct-sharing-1337/1/moves-storyline-data.json?Signature=s"
    )
    interactions = [
        interaction(
            "POST",
            f"{OH}/oauth2/token/",
            200,
            {
                "access_token": "new-oh-access",
                "expires_in": 36000,
                "token_type": "Bearer",
                "refresh_token": "new-oh-refresh",
                "scope": "write read",
            },
            json_headers(),
        ),
        interaction(
            "POST",
            f"{MOVES}/oauth/v1/access_token",
            200,
            {
                "access_token": "new-moves-access",
                "token_type": "bearer",
                "expires_in": 15551998,
                "refresh_token": "new-moves-refresh",
                "user_id": 12345678,
            },
            {"Content-Type": ["application/json; charset=utf-8"], "Date": ["Wed, 25 Apr 2018 20:33:39 GMT"]},
        ),
        interaction(
            "GET",
            f"{OH}/api/direct-sharing/project/exchange-member/?limit=200",
            200,
            exchange_member,
            json_headers(),
        ),
        interaction(
            "GET",
            f"{MOVES}/api/1.1/user/profile",
            200,
            {
                "userId": 12345678,
                "profile": {
                    "firstDate": "20160616",
                    "currentTimeZone": {"id": "America/Los_Angeles", "offset": -25200},
                    "localization": {
                        "language": "en-DE",
                        "locale": "en_DE",
                        "firstWeekDay": 2,
                        "metric": False,
                    },
                    "caloriesAvailable": False,
                    "platform": "ios",
                },
            },
            moves_headers(119),
        ),
        interaction(
            "GET",
            f"{MOVES}/api/1.1/user/storyline/daily/2016-W24?trackPoints=true",
            200,
            week_answer(W24),
            moves_headers(118),
        ),
        interaction(
            "GET",
            f"{MOVES}/api/1.1/user/storyline/daily/2016-W25?trackPoints=true",
            200,
            week_answer(W25),
            moves_headers(117),
        ),
        interaction(
            "POST",
            f"{OH}/api/direct-sharing/project/files/upload/direct/",
            201,
            {"url": upload_url, "id": 40330},
            json_headers(),
        ),
        interaction("PUT", upload_url, 200, "", {"Content-Length": ["0"]}),
        interaction(
            "POST",
            f"{OH}/api/direct-sharing/project/files/upload/complete/",
            200,
            {"status": "ok", "size": len(expected_file())},
            json_headers(),
        ),
    ]
    if with_project:
        interactions.insert(
            2,
            interaction(
                "GET",
                f"{OH}/api/direct-sharing/project/",
                200,
                {"id_label": "direct-sharing-1337", "name": "Moves"},
                json_headers(),
            ),
        )
    path.write_text(yaml.safe_dump({"version": 1, "interactions": interactions}))
    return path


@pytest.fixture
def replay(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.OH_BASE_URL = OH
    settings.MOVES_API_BASE_URL = f"{MOVES}/api/1.1"
    settings.MOVES_OAUTH_BASE_URL = f"{MOVES}/oauth/v1"
    uploads: set[bytes] = set()

    def record_upload(r1, r2) -> None:
        # A matcher that keeps the uploaded bytes while the cassette answers the
        # PUT (it is asked once per recorded request, so the same body comes
        # several times; how many uploads there were is the play count).
        if r1.method == "PUT" and r1.body is not None:
            body = r1.body.getvalue() if hasattr(r1.body, "getvalue") else r1.body
            uploads.add(body if isinstance(body, bytes) else body.encode())

    def run(exchange_member: dict[str, Any], with_project: bool) -> tuple[Any, list[bytes]]:
        path = cassette(tmp_path / "recording.yaml", exchange_member, with_project)
        recorder = vcr.VCR(record_mode="none", match_on=["method", "uri", "upload"])
        recorder.register_matcher("upload", record_upload)
        members = tmp_path / "members.csv"
        members.write_text("23456789,old-oh-refresh,old-moves-refresh\n")
        with (
            time_machine.travel(RECORDING_DAY, tick=False),
            recorder.use_cassette(str(path), allow_playback_repeats=True) as played,
        ):
            with django_capture_on_commit_callbacks(execute=True):
                call_command("import_users", infile=str(members), delimiter=",")
        return played, sorted(uploads)

    return run


def check_uploaded_every_day_answered(played: Any, uploads: list[bytes]) -> None:
    plays = {
        request.uri.split("?")[0]: played.play_counts[number]
        for number, (request, _) in enumerate(played.data)
    }
    assert plays[f"{OH}/api/direct-sharing/project/files/upload/direct/"] == 1
    assert uploads == [expected_file()]
    days = json.loads(uploads[0])
    assert [day["date"] for day in days] == W24 + W25
    assert days == week_answer(W24) + week_answer(W25)
    member = MovesMember.objects.get(member__oh_id="23456789")
    assert (member.file_id, member.days_held, member.first_day_held, member.last_day_held) == (
        40330,
        11,
        date(2016, 6, 16),
        date(2016, 6, 26),
    )
    held = {fact.day: fact.state for year in calendar(member).values() for fact in year if fact.state}
    assert held == {date(2016, 6, 16): NO_DATA, **{date(2016, 6, day): HAS_DATA for day in range(17, 27)}}


@pytest.mark.django_db(transaction=True)
def test_the_2018_recording_uploads_exactly_the_days_moves_answered(replay, settings):
    settings.OH_SOURCE_LABEL = "direct-sharing-1337"
    played, uploads = replay(exchange_member_2018(), with_project=False)
    check_uploaded_every_day_answered(played, uploads)
    assert played.all_played


@pytest.mark.django_db(transaction=True)
def test_todays_exchange_member_with_another_projects_file_uploads_the_same_days(replay):
    played, uploads = replay(exchange_member_today(), with_project=True)
    check_uploaded_every_day_answered(played, uploads)
    # The other project's file was neither downloaded nor deleted: the cassette
    # has no answer for either, and replaying refuses anything it lacks.
    assert played.all_played
    member = MovesMember.objects.get(member__oh_id="23456789")
    assert member.status == MovesMember.Status.CURRENT
