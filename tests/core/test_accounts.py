"""Joining, connecting, disconnecting and leaving, against the stand-in Open Humans where it is called."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from apiclients.errors import InvalidGrant, PermanentUpstreamError, TemporaryUpstreamError
from apiclients.oauth import TokenGrant
from apiclients.openhumans import ExchangeMember, RemoteFile
from core import accounts
from core.accounts import Departure
from core.days import HAS_DATA, DayFacts, store_calendar
from core.models import DayYear, DifferentMovesAccount, MovesMember, PendingWeek, RecentDay
from open_humans.models import OpenHumansMember
from sandbox import accounts as sandbox_accounts
from sandbox import storage, testing
from sandbox.models import SandboxFile
from tests.connected import settle, unreachable_url

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
Status = MovesMember.Status


def remote(oh_id: str = "23456789", username: str = "alice") -> ExchangeMember:
    return ExchangeMember(project_member_id=oh_id, username=username, files=[])


def grant(name: str) -> TokenGrant:
    return TokenGrant(f"{name}-access", f"{name}-refresh", 36000, None)


# --- sign_in ----------------------------------------------------------------------------------


def test_sign_in_creates_the_user_and_member(db):
    with time_machine.travel(NOW, tick=False):
        member = accounts.sign_in(grant("oh"), remote())

    stored = OpenHumansMember.objects.get()
    assert stored.pk == member.pk
    assert (stored.oh_id, stored.username, stored.access_token, stored.refresh_token) == (
        "23456789",
        "alice",
        "oh-access",
        "oh-refresh",
    )
    assert (stored.token_expires, stored.signed_in_at, stored.needs_reconnect) == (
        NOW + timedelta(hours=10),
        NOW,
        False,
    )
    assert (stored.user.username, stored.user.has_usable_password()) == ("oh-23456789", False)


def test_sign_in_of_a_returning_member_updates_them(make_member):
    existing = make_member("23456789").member
    existing.refresh_refused()

    with time_machine.travel(NOW, tick=False):
        member = accounts.sign_in(grant("again"), remote(username="alice2"))

    stored = OpenHumansMember.objects.get()
    assert (stored.pk, member.pk) == (existing.pk, existing.pk)
    assert (stored.refresh_token, stored.username, stored.needs_reconnect, stored.signed_in_at) == (
        "again-refresh",
        "alice2",
        False,
        NOW,
    )
    assert get_user_model().objects.count() == 1


def test_sign_in_wakes_the_dispatcher_for_a_member_waiting_for_uploads(
    make_member, django_capture_on_commit_callbacks
):
    make_member("23456789")
    with django_capture_on_commit_callbacks() as idle:
        accounts.sign_in(grant("oh"), remote())
    MovesMember.objects.update(sync_wanted_since=timezone.now())
    with django_capture_on_commit_callbacks() as waiting:
        accounts.sign_in(grant("oh"), remote())

    assert (len(idle), len(waiting)) == (0, 1)


# --- connect_moves ----------------------------------------------------------------------------


def test_connect_moves_stores_the_connection_and_wakes_the_dispatcher(
    make_member, django_capture_on_commit_callbacks
):
    oh_member = make_member("23456789").member
    MovesMember.objects.all().delete()

    with django_capture_on_commit_callbacks() as callbacks:
        moves = accounts.connect_moves(oh_member, TokenGrant("m-access", "m-refresh", 3600, 4242))

    assert (moves.moves_id, moves.status, MovesMember.objects.get().refresh_token) == (
        4242,
        Status.NEW,
        "m-refresh",
    )
    assert len(callbacks) == 1


def test_connect_moves_with_a_different_account_is_refused_and_stores_nothing(
    make_member, django_capture_on_commit_callbacks
):
    moves = make_member("23456789", moves_id=4242, status=Status.NEEDS_RECONNECT)
    before = MovesMember.objects.filter(pk=moves.pk).values().get()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(DifferentMovesAccount):
        accounts.connect_moves(moves.member, TokenGrant("m-access", "m-refresh", 3600, 9999))

    assert MovesMember.objects.filter(pk=moves.pk).values().get() == before
    assert callbacks == []


# --- disconnect_moves, against the stand-in ----------------------------------------------------------


def own_file(oh, basename: str, data: bytes) -> SandboxFile:
    """A completed file of this project in the member's stand-in account."""
    now = timezone.now()
    stored = SandboxFile.objects.create(
        member=oh,
        basename=basename,
        source=sandbox_accounts.SOURCE,
        metadata={"description": "notes", "tags": ["notes"]},
        upload_expires=now,
        completed_at=now,
    )
    storage.store_bytes(stored, data)
    return stored


@pytest.fixture
def synced(connect):
    """A person whose two weeks of history are on the stand-in Open Humans."""
    person = connect(days=10)
    settle(person.member)
    assert len(person.file_days()) == 10
    return person


def test_disconnect_deletes_only_the_projects_moves_file_and_the_connection(synced, work_dir):
    [ours] = testing.stored_files(synced.oh)
    theirs = testing.share_other_source(synced.oh)
    notes = own_file(synced.oh, "notes.txt", b"kept")
    oh_member = synced.member.member
    local_copy = work_dir / oh_member.oh_id
    assert local_copy.exists()

    result = accounts.disconnect_moves(oh_member)

    assert result == accounts.DisconnectResult(removed_connection=True, deleted_file_ids=[ours.pk])
    assert [file.pk for file in testing.stored_files(synced.oh)] == [notes.pk]
    assert testing.read_file_bytes(SandboxFile.objects.get(pk=theirs.pk)) == sandbox_accounts.OTHER_FILE_BYTES
    assert (MovesMember.objects.count(), RecentDay.objects.count(), DayYear.objects.count()) == (0, 0, 0)
    assert OpenHumansMember.objects.get(pk=oh_member.pk).refresh_token != ""
    # The worker was asked to delete its copy of the history (the task ran inline).
    assert local_copy.exists() is False


def test_disconnect_again_deletes_a_file_left_behind(synced):
    [ours] = testing.stored_files(synced.oh)
    MovesMember.objects.all().delete()

    result = accounts.disconnect_moves(synced.member.member)

    assert result == accounts.DisconnectResult(removed_connection=False, deleted_file_ids=[ours.pk])
    assert testing.stored_files(synced.oh) == []


def test_disconnect_with_open_humans_down_still_forgets_the_connection(make_member, settings):
    settings.OH_BASE_URL = unreachable_url()
    settings.OH_SOURCE_LABEL = ""
    moves = make_member("23456789")
    RecentDay.objects.create(moves_member=moves, date=date(2024, 5, 1), steps=10)

    result = accounts.disconnect_moves(moves.member)

    assert result == accounts.DisconnectResult(
        removed_connection=True,
        file_error="Open Humans is not answering right now; please try again in a few minutes.",
    )
    assert (MovesMember.objects.count(), RecentDay.objects.count()) == (0, 0)


def test_disconnect_after_open_humans_access_ended_says_to_sign_in_again(synced):
    oh_member = synced.member.member
    testing.member_leaves(synced.oh)
    OpenHumansMember.objects.filter(pk=oh_member.pk).update(token_expires=timezone.now())
    oh_member.refresh_from_db()

    result = accounts.disconnect_moves(oh_member)

    assert result == accounts.DisconnectResult(
        removed_connection=True,
        file_error=(
            "Open Humans no longer accepts our access to your account; sign in with Open Humans again first."
        ),
    )
    assert OpenHumansMember.objects.get(pk=oh_member.pk).needs_reconnect is True
    assert MovesMember.objects.count() == 0


# --- download_url ------------------------------------------------------------------------------------


def test_download_url_is_a_fresh_link_to_the_members_file(synced):
    import requests

    link = accounts.download_url(synced.member.member)

    answer = requests.get(link, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == synced.file_days()


def test_download_url_without_a_file_is_none(connect):
    person = connect(days=10)

    assert accounts.download_url(person.member.member) is None


def test_current_file_prefers_the_file_the_database_knows():
    files = [
        RemoteFile(7, "moves-storyline-data.json", "u7"),
        RemoteFile(9, "moves-storyline-data.json", "u9"),
    ]
    other = RemoteFile(11, "notes.txt", "u11")
    member = ExchangeMember("23456789", "alice", [*files, other])

    assert (
        accounts.current_file(member, 7),
        accounts.current_file(member, 404),
        accounts.current_file(ExchangeMember("1", "", [other]), None),
    ) == (files[0], files[1], None)


# --- member_left -------------------------------------------------------------------------------------


@pytest.fixture
def leaving(make_member) -> MovesMember:
    moves = make_member("23456789", status=Status.CURRENT, sync_wanted_since=timezone.now())
    OpenHumansMember.objects.filter(pk=moves.member_id).update(signed_in_at=NOW - timedelta(days=3))
    RecentDay.objects.create(moves_member=moves, date=date(2024, 5, 1), steps=10)
    store_calendar(moves, [DayFacts(date(2024, 5, 1), HAS_DATA, 10, 1, 2)])
    PendingWeek.objects.create(moves_member=moves, monday=date(2024, 4, 29))
    return moves


def departure(erasure: bool = False, sent_at: datetime | None = NOW) -> Departure:
    return Departure(project_member_id="23456789", erasure_requested=erasure, sent_at=sent_at)


def test_member_left_removes_both_connections_tokens(leaving, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = accounts.member_left(departure())

    assert outcome == "tokens-removed"
    oh_member = OpenHumansMember.objects.get()
    assert (oh_member.access_token, oh_member.refresh_token, oh_member.needs_reconnect) == ("", "", True)
    moves = MovesMember.objects.get()
    assert (moves.access_token, moves.refresh_token, moves.status, moves.sync_wanted_since) == (
        "",
        "",
        Status.NEEDS_RECONNECT,
        None,
    )
    assert moves.last_error == "You left the project on Open Humans."
    # Their summaries stay until they ask for erasure; the worker's copy goes.
    assert (RecentDay.objects.count(), DayYear.objects.count()) == (1, 1)
    assert len(callbacks) == 1


def test_member_left_asking_for_erasure_deletes_everything(leaving, client):
    client.force_login(leaving.member.user)

    assert accounts.member_left(departure(erasure=True)) == "erased"

    assert [model.objects.count() for model in (get_user_model(), OpenHumansMember, MovesMember)] == [0, 0, 0]
    assert [model.objects.count() for model in (RecentDay, DayYear, PendingWeek)] == [0, 0, 0]
    assert client.get("/dashboard/").status_code == 302


def test_member_left_sent_before_the_latest_sign_in_is_stale(leaving):
    OpenHumansMember.objects.update(signed_in_at=NOW + timedelta(seconds=1))
    before = (
        OpenHumansMember.objects.values().get(),
        MovesMember.objects.values().get(),
    )

    assert accounts.member_left(departure(erasure=True)) == "stale"

    assert (OpenHumansMember.objects.values().get(), MovesMember.objects.values().get()) == before
    assert (RecentDay.objects.count(), DayYear.objects.count(), PendingWeek.objects.count()) == (1, 1, 1)


def test_member_left_twice_is_already_forgotten(leaving):
    accounts.member_left(departure())
    moves = MovesMember.objects.values().get()

    assert accounts.member_left(departure()) == "already-forgotten"

    assert MovesMember.objects.values().get() == moves


def test_member_left_of_someone_we_do_not_hold_is_unknown(leaving):
    assert accounts.member_left(Departure("99999999", True, NOW)) == "unknown"

    assert (OpenHumansMember.objects.count(), MovesMember.objects.count()) == (1, 1)


def test_member_left_without_moves_removes_the_open_humans_tokens(make_member):
    oh_member = make_member("23456789").member
    MovesMember.objects.all().delete()

    assert accounts.member_left(departure(sent_at=None)) == "tokens-removed"

    assert OpenHumansMember.objects.get(pk=oh_member.pk).has_tokens is False


# --- plain_reason ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            InvalidGrant("Open Humans", "token refused: invalid_grant", 400),
            "Open Humans no longer accepts our access to your account; sign in with Open Humans again first.",
        ),
        (
            TemporaryUpstreamError("Open Humans", "timed out", None),
            "Open Humans is not answering right now; please try again in a few minutes.",
        ),
        (
            PermanentUpstreamError("Open Humans", "not found", 404),
            "Open Humans refused the request (not found).",
        ),
        (
            TemporaryUpstreamError("", "timed out", None),
            "Open Humans is not answering right now; please try again in a few minutes.",
        ),
    ],
    ids=["refused token", "temporary", "permanent", "no service named"],
)
def test_plain_reason_says_what_happened_and_what_to_do(error, words):
    assert accounts.plain_reason(error) == words
