"""``import_users``: both refresh tokens spent and replaced, members stored, an update queued per member.

Upstream answers come from cassettes recorded against the sandbox (see conftest.py).
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from main.models import MovesMember
from open_humans.models import OpenHumansMember
from tests.commands.conftest import RECORDING

# Recording needs live_server, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=RECORDING)


def run_import(path, django_capture_on_commit_callbacks) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_users", infile=str(path), delimiter=",", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary(output: str) -> str:
    last = output.splitlines()[-1]
    return last.rsplit(";", 1)[0]


def test_it_imports_good_lines(upstream, write_lines, queued, django_capture_on_commit_callbacks):
    alice = upstream.member("alice", "10000001", 20000001)
    bob = upstream.member("bob", "10000002", 20000002)
    path = write_lines(f"10000001,{alice[0]},{alice[1]}", f"10000002,{bob[0]},{bob[1]}")

    with upstream.cassette("import_two_members") as cassette:
        out, err = run_import(path, django_capture_on_commit_callbacks)

    assert RECORDING or cassette.all_played
    assert out.splitlines()[:2] == [
        "line 1: imported member 10000001, update queued",
        "line 2: imported member 10000002, update queued",
    ]
    assert summary(out) == "import_users: imported 2, failed 0"
    assert err == ""
    assert queued == ["10000001", "10000002"]
    oh_member = OpenHumansMember.objects.get(oh_id="10000001")
    assert oh_member.user.username == "oh-10000001"
    assert oh_member.username == "alice"
    assert upstream.fake(oh_member.access_token) == "oh-access-alice-new-fake"
    assert upstream.fake(oh_member.refresh_token) == "oh-refresh-alice-new-fake"
    moves = MovesMember.objects.get(member__oh_id="10000002")
    assert moves.moves_id == 20000002
    assert moves.status == MovesMember.Status.NEW
    assert upstream.fake(moves.access_token) == "moves-access-bob-new-fake"
    assert upstream.fake(moves.refresh_token) == "moves-refresh-bob-new-fake"
    assert moves.token_is_fresh()


def test_it_never_prints_tokens(upstream, write_lines, queued, django_capture_on_commit_callbacks):
    alice = upstream.member("alice", "10000001", 20000001)
    bob = upstream.member("bob", "10000002", 20000002)
    path = write_lines(f"10000001,{alice[0]},{alice[1]}", f"10000002,{bob[0]},{bob[1]}")

    with upstream.cassette("import_two_members"):
        out, err = run_import(path, django_capture_on_commit_callbacks)

    stored = [
        token
        for moves in MovesMember.objects.select_related("member")
        for token in (
            moves.access_token,
            moves.refresh_token,
            moves.member.access_token,
            moves.member.refresh_token,
        )
    ]
    printed = out + err
    assert [token for token in [*alice, *bob, *stored] if token in printed] == []


def test_it_updates_an_existing_member(
    upstream, write_lines, queued, make_member, django_capture_on_commit_callbacks
):
    existing = make_member(oh_id="10000001", moves_id=20000001, status=MovesMember.Status.NEEDS_RECONNECT)
    alice = upstream.member("alice", "10000001", 20000001)
    path = write_lines(f"10000001,{alice[0]},{alice[1]}")

    with upstream.cassette("import_existing_member"):
        out, _ = run_import(path, django_capture_on_commit_callbacks)

    assert summary(out) == "import_users: imported 1, failed 0"
    existing.refresh_from_db()
    existing.member.refresh_from_db()
    assert MovesMember.objects.count() == 1
    assert existing.status == MovesMember.Status.NEW
    assert upstream.fake(existing.refresh_token) == "moves-refresh-alice-new-fake"
    assert upstream.fake(existing.member.refresh_token) == "oh-refresh-alice-new-fake"
    assert queued == ["10000001"]


def test_it_reports_refused_refresh_tokens_and_goes_on(
    upstream, write_lines, queued, django_capture_on_commit_callbacks
):
    dave = upstream.member("dave", "10000004", 20000004)
    erin = upstream.member("erin", "10000005", 20000005)
    path = write_lines(
        "10000003,oh-refresh-revoked-fake,moves-refresh-carol-fake",
        f"10000004,{dave[0]},moves-refresh-revoked-fake",
        f"10000005,{erin[0]},{erin[1]}",
    )

    with upstream.cassette("import_refused_tokens") as cassette:
        out, err = run_import(path, django_capture_on_commit_callbacks)

    assert RECORDING or cassette.all_played
    assert err.splitlines() == [
        "line 1: member 10000003: Open Humans refused the refresh token",
        "line 2: member 10000004: Moves refused the refresh token; the Open Humans member was stored",
    ]
    assert summary(out) == "import_users: imported 1, failed 2"
    assert queued == ["10000005"]
    assert not OpenHumansMember.objects.filter(oh_id="10000003").exists()
    # Dave's Open Humans refresh token was spent, so its successor is kept.
    dave_member = OpenHumansMember.objects.get(oh_id="10000004")
    assert upstream.fake(dave_member.refresh_token) == "oh-refresh-dave-new-fake"
    assert list(MovesMember.objects.values_list("member__oh_id", flat=True)) == ["10000005"]


def test_it_skips_a_header_and_reports_malformed_lines(
    upstream, write_lines, queued, django_capture_on_commit_callbacks
):
    frank = upstream.member("frank", "10000006", 20000006)
    path = write_lines(
        "oh_id,oh_refresh_token,moves_refresh_token",
        "10000007,oh-refresh-only-fake",
        "",
        "not-a-number,oh-refresh-x-fake,moves-refresh-x-fake",
        f"10000006,{frank[0]},{frank[1]}",
    )

    with upstream.cassette("import_header_and_malformed") as cassette:
        out, err = run_import(path, django_capture_on_commit_callbacks)

    assert RECORDING or cassette.all_played
    assert len(cassette) == 3
    assert out.splitlines()[:2] == [
        "line 1: header, skipped",
        "line 5: imported member 10000006, update queued",
    ]
    assert err.splitlines() == [
        "line 2: expected 3 fields (oh_id, oh_refresh_token, moves_refresh_token), found 2",
        "line 3: blank, skipped",
        "line 4: the Open Humans member id is not a number",
    ]
    assert summary(out) == "import_users: imported 1, failed 2, 1 header skipped, 1 blank skipped"
    assert queued == ["10000006"]


def test_it_reads_another_delimiter(upstream, write_lines, queued, django_capture_on_commit_callbacks):
    frank = upstream.member("frank", "10000006", 20000006)
    path = write_lines(f"10000006;{frank[0]};{frank[1]}")
    out, err = StringIO(), StringIO()

    with upstream.cassette("import_semicolons"), django_capture_on_commit_callbacks(execute=True):
        call_command("import_users", infile=str(path), delimiter=";", stdout=out, stderr=err)

    assert summary(out.getvalue()) == "import_users: imported 1, failed 0"
    assert queued == ["10000006"]


def test_it_fails_when_the_file_cannot_be_read(tmp_path, queued):
    with pytest.raises(CommandError, match=r"cannot read .*missing\.csv"):
        call_command("import_users", infile=str(tmp_path / "missing.csv"), stdout=StringIO())

    assert queued == []
    assert OpenHumansMember.objects.count() == 0
