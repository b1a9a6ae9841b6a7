"""``process_moves`` against recorded Moves and Open Humans traffic (see conftest.py).

Each test checks that the history uploaded is exactly the days the API
answered (plus, where a file existed, the days held before the re-fetched
week), in date order, once each; and that the cassette was played through.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
import yaml

from datauploader.tasks import process_moves
from datauploader.worklog import DayLog, discard_log
from main.models import MovesMember
from sandbox import testing
from tests.sync.conftest import (
    CASSETTES,
    OPEN_HUMANS,
    RECORDING,
    STORAGE,
    TODAY,
    answered_days,
    downloaded_days,
    requests_to,
    storyline_weeks,
)

pytestmark = pytest.mark.django_db(transaction=RECORDING)

UPLOAD = "/api/direct-sharing/project/files/upload/direct/"
COMPLETE = "/api/direct-sharing/project/files/upload/complete/"
DELETE = "/api/direct-sharing/project/files/delete/"


def uploaded_history(member: MovesMember) -> list[dict]:
    """The days of the file last uploaded: the worker's log, checked against the stored hash."""
    history = DayLog.for_member(member.member.oh_id)
    written = history.write_json(history.directory / "check.json")
    assert written.sha256 == member.file_sha256
    return list(history.days_from(0))


def dates(days: list[dict]) -> list[str]:
    return [day["date"] for day in days]


def run(oh_id: str) -> None:
    process_moves.apply(args=[oh_id]).get()


@pytest.fixture
def requeued(monkeypatch) -> list[dict]:
    """Re-enqueues of process_moves, kept instead of sent: the broker is the boundary here."""
    sent: list[dict] = []
    monkeypatch.setattr(process_moves, "apply_async", lambda args, **options: sent.append(options))
    return sent


def test_process_moves_from_no_data_uploads_every_day_answered(traffic, participant):
    member = participant("first-upload", first_date=date(2018, 2, 26), days=17)

    with traffic.use("process_moves_from_no_data") as cassette:
        run(member.member.oh_id)

    assert traffic.recording or cassette.all_played
    assert storyline_weeks(cassette) == ["2018-W09", "2018-W10", "2018-W11"]
    assert requests_to(cassette, "GET", "/user/profile") == 1
    assert requests_to(cassette, "POST", COMPLETE) == 1
    assert requests_to(cassette, "POST", DELETE) == 0
    answered = answered_days(cassette)
    held = uploaded_history(MovesMember.objects.get(pk=member.pk))
    assert held == answered
    assert dates(held) == sorted(set(dates(held)))
    assert dates(held)[0] == "20180226"
    assert dates(held)[-1] == TODAY.strftime("%Y%m%d")
    member.refresh_from_db()
    assert member.status == MovesMember.Status.CURRENT
    assert member.last_updated is not None
    assert (member.weeks_done, member.weeks_total) == (3, 3)
    assert member.days_held == 17
    assert member.first_date == date(2018, 2, 26)
    assert member.recent_days.count() == 17


def test_process_moves_with_existing_data_fetches_only_the_partial_week_and_newer(traffic, participant):
    member = participant("returning", first_date=date(2018, 2, 26), days=17)
    oh_id = member.member.oh_id
    if traffic.recording:
        with time_machine.travel(datetime(2018, 3, 7, 12, 0, tzinfo=UTC)):
            run(oh_id)
        # A fresh worker: the history must come from Open Humans.
        discard_log(oh_id)
        testing.reset_rate_limits()
    MovesMember.objects.filter(pk=member.pk).update(
        status=MovesMember.Status.CURRENT, last_updated=datetime(2018, 3, 7, 12, 0, tzinfo=UTC)
    )

    with traffic.use("process_moves_with_existing_data") as cassette:
        run(oh_id)

    assert traffic.recording or cassette.all_played
    # The file held 26 February to 7 March: week 10 was partial, so it is
    # fetched again, then week 11; the profile is not asked for.
    assert storyline_weeks(cassette) == ["2018-W10", "2018-W11"]
    assert requests_to(cassette, "GET", "/user/profile") == 0
    before = downloaded_days(cassette)
    assert dates(before) == [(date(2018, 2, 26) + timedelta(days=n)).strftime("%Y%m%d") for n in range(10)]
    kept = [day for day in before if day["date"] < "20180305"]
    held = uploaded_history(MovesMember.objects.get(pk=member.pk))
    assert held == kept + answered_days(cassette)
    assert dates(held) == sorted(set(dates(held)))
    # The new file is complete before the old one is deleted.
    order = [(r.method, r.path) for r in cassette.requests]
    assert order.index(("POST", COMPLETE)) < order.index(("POST", DELETE))
    assert requests_to(cassette, "POST", DELETE) == 1
    member.refresh_from_db()
    assert member.status == MovesMember.Status.CURRENT
    assert member.days_held == 17


def test_rate_limit_mid_backfill_uploads_the_partial_history_and_requeues(
    traffic, participant, settings, requeued
):
    member = participant("long-history", first_date=date(2018, 1, 29), days=45)
    oh_id = member.member.oh_id
    if traffic.recording:
        # Moves lets four requests through this minute: the profile and three weeks.
        settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE = 4

    with traffic.use("process_moves_rate_limited") as cassette:
        run(oh_id)
        [limited] = [r for r in cassette.responses if r["status"]["code"] == 429]
        retry_after = float(limited["headers"]["Retry-After"][0])
        assert requeued == [{"countdown": retry_after}]
        member.refresh_from_db()
        assert member.status == MovesMember.Status.BACKFILLING
        assert (member.weeks_done, member.weeks_total) == (3, 7)
        assert member.next_batch_at is not None
        assert member.last_updated is None
        partial = uploaded_history(member)
        assert dates(partial)[0] == "20180129"
        assert dates(partial)[-1] == "20180218"
        first_file = member.file_id

        if traffic.recording:
            testing.reset_rate_limits()
        run(oh_id)

    assert traffic.recording or cassette.all_played
    # The second run continues at week 8 from the worker's own copy: no
    # download from Open Humans and no week fetched twice.
    assert storyline_weeks(cassette) == [f"2018-W{week:02d}" for week in (5, 6, 7, 8, 8, 9, 10, 11)]
    assert not [r for r in cassette.requests if r.method == "GET" and "member-files" in r.uri]
    held = uploaded_history(MovesMember.objects.get(pk=member.pk))
    assert held == answered_days(cassette)
    assert dates(held) == sorted(set(dates(held)))
    assert len(held) == (TODAY - date(2018, 1, 29)).days + 1
    assert requests_to(cassette, "POST", COMPLETE) == 2
    assert requests_to(cassette, "POST", DELETE) == 1
    member.refresh_from_db()
    assert member.file_id != first_file
    assert member.status == MovesMember.Status.CURRENT
    assert (member.weeks_done, member.weeks_total) == (7, 7)
    assert requeued == [{"countdown": retry_after}]


def test_cassettes_hold_no_credentials_or_local_addresses():
    for path in sorted(CASSETTES.glob("*.yaml")):
        tape = yaml.safe_load(path.read_text())
        for interaction in tape["interactions"]:
            request = interaction["request"]
            assert request["headers"] == {}, path.name
            assert request["body"] is None, path.name
            assert request["uri"].startswith(("https://api.moves-app.com/", OPEN_HUMANS, STORAGE)), path.name
            body = interaction["response"]["body"]["string"]
            assert "localhost" not in body, path.name
            assert set(re.findall(r"signature=([^&\"'\s]*)", body + request["uri"])) <= {"fake"}, path.name
