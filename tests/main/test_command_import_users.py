"""``manage.py import_users``: members moved over with their refresh tokens, against the stand-ins.

Each refresh spends the token in the file, so the stand-ins are the only
honest counterpart: they refuse a token twice, and tell which member a
token belongs to.
"""

import os
import threading
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.models import MovesMember
from open_humans.models import OpenHumansMember
from sandbox import testing


@dataclass
class Person:
    """Someone with accounts at both stand-ins and a refresh token for each, as an export would list them."""

    oh_id: str
    moves_id: int
    oh_refresh: str
    moves_refresh: str

    def line(self, delimiter: str = ",") -> str:
        return delimiter.join([self.oh_id, self.oh_refresh, self.moves_refresh])


@pytest.fixture
def person(sandboxed):
    def make(name: str) -> Person:
        oh = testing.create_oh_member(name)
        user = testing.create_moves_user(name, days=5)
        _, oh_refresh = testing.issue_oh_tokens(oh)
        _, moves_refresh = testing.issue_moves_tokens(user)
        return Person(oh.project_member_id, user.moves_id, oh_refresh, moves_refresh)

    return make


@dataclass
class Run:
    out: list[str]
    err: list[str]

    @property
    def summary(self) -> str:
        return self.out[-1].rsplit(";", 1)[0]

    @property
    def text(self) -> str:
        return "\n".join(self.out + self.err)


def run_import(path: Path, delimiter: str = ",") -> Run:
    out, err = StringIO(), StringIO()
    call_command("import_users", infile=str(path), delimiter=delimiter, stdout=out, stderr=err)
    return Run(out.getvalue().splitlines(), err.getvalue().splitlines())


@pytest.fixture
def members_file(tmp_path):
    def write(*lines: str) -> Path:
        path = tmp_path / "members.csv"
        path.write_text("".join(line + "\n" for line in lines))
        return path

    return write


def stored_tokens() -> list[str]:
    return [
        token
        for moves in MovesMember.objects.select_related("member")
        for token in (
            moves.access_token,
            moves.refresh_token,
            moves.member.access_token,
            moves.member.refresh_token,
        )
    ]


def test_import_users_stores_both_connections_and_queues_an_update(person, members_file, queued_tasks):
    alice, bob = person("alice"), person("bob")

    result = run_import(members_file(alice.line(), bob.line()))

    assert result.out[:2] == [
        f"line 1: imported member {alice.oh_id}, update queued",
        f"line 2: imported member {bob.oh_id}, update queued",
    ]
    assert (result.summary, result.err) == ("import_users: imported 2, failed 0", [])
    member = OpenHumansMember.objects.get(oh_id=alice.oh_id)
    assert (member.user.username, member.username, member.signed_in_at is not None) == (
        f"oh-{alice.oh_id}",
        "alice",
        True,
    )
    moves = MovesMember.objects.get(member__oh_id=bob.oh_id)
    assert (moves.moves_id, moves.status, moves.token_is_fresh()) == (
        bob.moves_id,
        MovesMember.Status.NEW,
        True,
    )
    # Both refresh tokens were spent and replaced by the ones the stand-ins issued.
    assert {alice.oh_refresh, alice.moves_refresh, bob.oh_refresh, bob.moves_refresh} & set(
        stored_tokens()
    ) == set()
    assert queued_tasks() == [("datauploader.dispatch", []), ("datauploader.dispatch", [])]


def test_import_users_never_prints_a_token(person, members_file, queued_tasks):
    alice = person("alice")
    refused = "10000003,oh-refresh-nobody-issued,moves-refresh-nobody-issued"

    result = run_import(members_file(alice.line(), refused))

    printed = [
        token for token in [alice.oh_refresh, alice.moves_refresh, *stored_tokens()] if token in result.text
    ]
    assert printed == []
    assert ("oh-refresh-nobody-issued" in result.text, "moves-refresh-nobody-issued" in result.text) == (
        False,
        False,
    )


def test_import_users_updates_a_member_already_here(person, members_file, make_member, queued_tasks):
    alice = person("alice")
    existing = make_member(alice.oh_id, moves_id=alice.moves_id, status=MovesMember.Status.NEEDS_RECONNECT)

    result = run_import(members_file(alice.line()))

    assert result.summary == "import_users: imported 1, failed 0"
    moves = MovesMember.objects.get()
    assert (moves.pk, moves.status, moves.refresh_token != "moves-refresh-" + alice.oh_id) == (
        existing.pk,
        MovesMember.Status.NEW,
        True,
    )


def test_import_users_reports_refused_tokens_by_line_and_goes_on(person, members_file, queued_tasks):
    dave, erin = person("dave"), person("erin")

    result = run_import(
        members_file(
            "10000003,oh-refresh-nobody-issued,moves-refresh-carol",
            f"{dave.oh_id},{dave.oh_refresh},moves-refresh-nobody-issued",
            erin.line(),
        )
    )

    assert result.err == [
        "line 1: member 10000003: Open Humans refused the refresh token",
        f"line 2: member {dave.oh_id}: Moves refused the refresh token; the Open Humans member was stored",
    ]
    assert result.summary == "import_users: imported 1, failed 2"
    assert list(MovesMember.objects.values_list("member__oh_id", flat=True)) == [erin.oh_id]
    # Dave's Open Humans refresh token was spent, so its successor is kept.
    assert OpenHumansMember.objects.get(oh_id=dave.oh_id).refresh_token not in ("", dave.oh_refresh)


def test_import_users_skips_a_header_and_reports_malformed_lines_by_number(
    person, members_file, queued_tasks
):
    frank = person("frank")

    result = run_import(
        members_file(
            "oh_id,oh_refresh_token,moves_refresh_token",
            "10000007,oh-refresh-only",
            "",
            "not-a-number,oh-refresh-x,moves-refresh-x",
            "10000008,,moves-refresh-y",
            frank.line(),
        )
    )

    assert result.out[:2] == [
        "line 1: header, skipped",
        f"line 6: imported member {frank.oh_id}, update queued",
    ]
    assert result.err == [
        "line 2: expected 3 fields (oh_id, oh_refresh_token, moves_refresh_token), found 2",
        "line 3: blank, skipped",
        "line 4: the Open Humans member id is not a number",
        "line 5: member 10000008: a refresh token is empty",
    ]
    assert result.summary == "import_users: imported 1, failed 3, 1 header skipped, 1 blank skipped"


def test_import_users_refuses_a_token_of_another_member_and_keeps_its_successor(
    person, members_file, queued_tasks
):
    alice, bob = person("alice"), person("bob")

    result = run_import(members_file(f"{alice.oh_id},{bob.oh_refresh},{alice.moves_refresh}"))

    assert result.err == [
        f"line 1: member {alice.oh_id}: the Open Humans token belongs to member {bob.oh_id}, "
        "whose new tokens were stored; the line was not imported"
    ]
    assert list(OpenHumansMember.objects.values_list("oh_id", flat=True)) == [bob.oh_id]
    assert MovesMember.objects.count() == 0


def test_import_users_refuses_a_different_moves_account(person, members_file, make_member, queued_tasks):
    alice = person("alice")
    make_member(alice.oh_id, moves_id=alice.moves_id + 1)

    result = run_import(members_file(alice.line()))

    assert result.err == [
        f"line 1: member {alice.oh_id}: the Moves token is for another account than the one already "
        f"connected (Moves user {alice.moves_id + 1}); nothing changed on the Moves side"
    ]
    assert MovesMember.objects.get().moves_id == alice.moves_id + 1


def test_import_users_reads_another_delimiter(person, members_file, queued_tasks):
    frank = person("frank")

    assert (
        run_import(members_file(frank.line(";")), delimiter=";").summary
        == "import_users: imported 1, failed 0"
    )


def test_import_users_reads_its_file_line_by_line(db, tmp_path):
    # A pipe whose next line is written only once the line before was reported:
    # reading the whole file first would wait for ever.
    path = tmp_path / "members.pipe"
    os.mkfifo(path)
    out, err = StringIO(), StringIO()
    lines = ["10000001,only-two", "10000002,,x", "x"]
    waited: list[float] = []

    def feed() -> None:
        with path.open("w") as pipe:
            for number, line in enumerate(lines, start=1):
                pipe.write(line + "\n")
                pipe.flush()
                started = time.monotonic()
                while f"line {number}:" not in err.getvalue() and time.monotonic() - started < 5:
                    time.sleep(0.01)
                waited.append(time.monotonic() - started)

    feeder = threading.Thread(target=feed)
    feeder.start()
    call_command("import_users", infile=str(path), stdout=out, stderr=err)
    feeder.join()

    assert len(err.getvalue().splitlines()) == 3
    assert max(waited) < 5


def test_import_users_without_a_readable_file_stops(db, tmp_path):
    with pytest.raises(CommandError, match=r"cannot read .*missing\.csv"):
        call_command("import_users", infile=str(tmp_path / "missing.csv"), stdout=StringIO())


def test_import_users_of_a_file_that_is_not_utf8_stops(db, tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes(b"10000001,\xff\xfe,x\n")

    with pytest.raises(CommandError, match="it is not UTF-8 text"):
        call_command("import_users", infile=str(path), stdout=StringIO(), stderr=StringIO())


def test_import_users_wants_a_one_character_delimiter(db, tmp_path):
    with pytest.raises(CommandError, match="--delimiter must be one character"):
        call_command("import_users", infile=str(tmp_path / "x.csv"), delimiter="::", stdout=StringIO())
