from datetime import date

import pytest
from pydantic import ValidationError

from apiclients.schemas import (
    DeleteReply,
    ExchangeMemberPage,
    MovesProfileReply,
    OAuthErrorReply,
    ProjectReply,
    RemoteFileReply,
    StorylineDay,
    TokenReply,
    UploadCompleteReply,
    UploadTargetReply,
)

# The token replies as both services sent them in 2018 (tokens replaced).
MOVES_TOKEN = {
    "access_token": "moves-access-fake",
    "token_type": "bearer",
    "expires_in": 15551998,
    "refresh_token": "moves-refresh-fake",
    "user_id": 12345678,
}
OH_TOKEN = {
    "access_token": "oh-access-fake",
    "expires_in": 36000,
    "token_type": "Bearer",
    "refresh_token": "oh-refresh-fake",
    "scope": "write read direct-sharing-128",
}
OWN_FILE = {
    "id": 40330,
    "basename": "moves-storyline-data.json",
    "created": "2018-04-25T20:34:38Z",
    "download_url": "https://www.openhumans.org/data-management/datafile-download/40330/?key=fake",
    "metadata": {"description": "Moves GPS history", "tags": ["GPS", "Moves", "steps"]},
    "source": "direct-sharing-138",
}


def invalid_fields(model, data) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [error["loc"] for error in caught.value.errors()]


# --- Token replies ------------------------------------------------------------------


def test_token_reply_moves_shape_names_the_user():
    reply = TokenReply.model_validate(MOVES_TOKEN)

    assert (reply.access_token, reply.refresh_token, reply.expires_in, reply.user_id) == (
        "moves-access-fake",
        "moves-refresh-fake",
        15551998,
        12345678,
    )


def test_token_reply_open_humans_shape_has_no_user_and_its_scope_is_ignored():
    reply = TokenReply.model_validate(OH_TOKEN)

    assert reply.user_id is None
    assert reply.model_dump() == {
        "access_token": "oh-access-fake",
        "refresh_token": "oh-refresh-fake",
        "expires_in": 36000,
        "user_id": None,
    }


def test_token_reply_extra_keys_are_ignored():
    reply = TokenReply.model_validate({**MOVES_TOKEN, "id_token": "x", "expires_at": "tomorrow"})

    assert reply.expires_in == 15551998


@pytest.mark.parametrize("key", ["access_token", "refresh_token", "expires_in"])
def test_token_reply_missing_key_is_invalid(key):
    data = {name: value for name, value in OH_TOKEN.items() if name != key}

    assert invalid_fields(TokenReply, data) == [(key,)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("expires_in", "36000"),
        ("expires_in", 36000.0),
        ("expires_in", True),
        ("expires_in", 0),
        ("expires_in", -1),
        ("expires_in", None),
        ("access_token", ""),
        ("access_token", 12345),
        ("access_token", None),
        ("refresh_token", ["oh-refresh-fake"]),
        ("user_id", "12345678"),
        ("user_id", True),
        ("user_id", 12345678.0),
    ],
)
def test_token_reply_wrong_type_is_invalid(key, value):
    # Strict: a bool is not an int, a numeric string is not a number.
    assert invalid_fields(TokenReply, {**MOVES_TOKEN, key: value}) == [(key,)]


def test_token_reply_not_an_object_is_invalid():
    assert invalid_fields(TokenReply, ["access_token"]) == [()]


def test_oauth_error_reply_reads_the_code():
    assert OAuthErrorReply.model_validate({"error": "invalid_grant", "hint": "x"}).error == "invalid_grant"
    assert invalid_fields(OAuthErrorReply, {"error": 400}) == [("error",)]


# --- Moves ------------------------------------------------------------------------------


def test_moves_profile_reply_real_shape():
    reply = MovesProfileReply.model_validate(
        {
            "userId": 12345678,
            "profile": {
                "firstDate": "20160616",
                "currentTimeZone": {"id": "America/Los_Angeles", "offset": -25200},
                "localization": {"language": "en-DE", "locale": "en_DE", "firstWeekDay": 2, "metric": False},
                "caloriesAvailable": False,
                "platform": "ios",
            },
        }
    )

    assert reply.userId == 12345678
    assert reply.profile.firstDate == date(2016, 6, 16)
    assert reply.profile.currentTimeZone.id == "America/Los_Angeles"


def test_moves_profile_reply_without_first_date_or_zone():
    reply = MovesProfileReply.model_validate({"userId": 12345678, "profile": {"platform": "android"}})

    assert (reply.profile.firstDate, reply.profile.currentTimeZone) == (None, None)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"userId": "12345678", "profile": {}}, ("userId",)),
        ({"userId": True, "profile": {}}, ("userId",)),
        ({"userId": 12345678}, ("profile",)),
        ({"userId": 12345678, "profile": {"firstDate": "2016-06-16"}}, ("profile", "firstDate")),
        ({"userId": 12345678, "profile": {"firstDate": 20160616}}, ("profile", "firstDate")),
        (
            {"userId": 12345678, "profile": {"currentTimeZone": {"id": -25200}}},
            ("profile", "currentTimeZone", "id"),
        ),
    ],
)
def test_moves_profile_reply_wrong_shape_is_invalid(data, where):
    assert invalid_fields(MovesProfileReply, data) == [where]


def test_storyline_day_keeps_what_it_reads():
    day = StorylineDay.model_validate(
        {"date": "20160617", "summary": [], "segments": [{"type": "off"}], "lastUpdate": "20160618T133300Z"}
    )

    assert (day.date, day.lastUpdate, day.segments) == (
        date(2016, 6, 17),
        "20160618T133300Z",
        [{"type": "off"}],
    )


def test_storyline_day_without_data_is_valid():
    day = StorylineDay.model_validate({"date": "20160616", "summary": None, "segments": None})

    assert (day.date, day.lastUpdate, day.summary, day.segments) == (date(2016, 6, 16), None, None, None)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"summary": None}, ("date",)),
        ({"date": "2016-06-17"}, ("date",)),
        ({"date": "20161317"}, ("date",)),
        ({"date": 20160617}, ("date",)),
        ({"date": "20160617", "segments": {"type": "place"}}, ("segments",)),
        ({"date": "20160617", "summary": "none"}, ("summary",)),
        ({"date": "20160617", "lastUpdate": 20160618}, ("lastUpdate",)),
    ],
)
def test_storyline_day_wrong_shape_is_invalid(data, where):
    assert invalid_fields(StorylineDay, data) == [where]


# --- Open Humans -----------------------------------------------------------------------


def test_project_reply_reads_the_source_label():
    assert ProjectReply.model_validate({"id": 138, "id_label": "direct-sharing-138"}).id_label == (
        "direct-sharing-138"
    )
    assert invalid_fields(ProjectReply, {"id": 138, "id_label": ""}) == [("id_label",)]
    assert invalid_fields(ProjectReply, {"id": 138}) == [("id_label",)]


def test_remote_file_reply_reads_id_name_url_and_source():
    remote = RemoteFileReply.model_validate(OWN_FILE)

    assert (remote.id, remote.basename, remote.source) == (40330, OWN_FILE["basename"], "direct-sharing-138")
    assert remote.download_url == OWN_FILE["download_url"]


def test_remote_file_reply_without_source_is_not_known_to_be_ours():
    data = {key: value for key, value in OWN_FILE.items() if key != "source"}

    assert RemoteFileReply.model_validate(data).source is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("id", "40330"), ("id", True), ("basename", None), ("download_url", None), ("source", 138)],
)
def test_remote_file_reply_wrong_type_is_invalid(key, value):
    assert invalid_fields(RemoteFileReply, {**OWN_FILE, key: value}) == [(key,)]


def test_exchange_member_page_today_and_in_2018():
    today = ExchangeMemberPage.model_validate(
        {
            "count": 1,
            "next": None,
            "previous": None,
            "created": "2018-01-19T21:55:40.049169Z",
            "project_member_id": "23456789",
            "sources_shared": ["direct-sharing-128"],
            "data": [OWN_FILE],
        }
    )
    old = ExchangeMemberPage.model_validate(
        {
            "created": "2018-01-19T21:55:40.049169Z",
            "project_member_id": "23456789",
            "message_permission": True,
            "username": "alice",
            "sources_shared": [],
            "data": [],
        }
    )

    assert (today.project_member_id, today.username, today.next, len(today.data)) == (
        "23456789",
        None,
        None,
        1,
    )
    assert (old.project_member_id, old.username, old.next, old.data) == ("23456789", "alice", None, [])


def test_exchange_member_page_next_must_be_a_string():
    assert invalid_fields(ExchangeMemberPage, {"project_member_id": "23456789", "next": 2}) == [("next",)]


def test_upload_replies():
    assert UploadTargetReply.model_validate({"id": 40330, "url": "https://s/x"}).id == 40330
    assert UploadCompleteReply.model_validate({"status": "ok", "size": 10516796}).size == 10516796
    assert invalid_fields(UploadTargetReply, {"id": 40330, "url": ""}) == [("url",)]
    assert invalid_fields(UploadCompleteReply, {"status": "failed", "size": 1}) == [("status",)]
    assert invalid_fields(UploadCompleteReply, {"status": "ok", "size": True}) == [("size",)]
    assert invalid_fields(UploadCompleteReply, {"status": "ok"}) == [("size",)]


def test_delete_reply_ids_are_integers():
    assert DeleteReply.model_validate({"ids": []}).ids == []
    assert DeleteReply.model_validate({"ids": [40330, 40331]}).ids == [40330, 40331]
    assert invalid_fields(DeleteReply, {"ids": [True]}) == [("ids", 0)]
    assert invalid_fields(DeleteReply, {"ids": "40330"}) == [("ids",)]


def test_replies_are_frozen():
    reply = DeleteReply.model_validate({"ids": [1]})

    with pytest.raises(ValidationError):
        reply.ids = [2]
