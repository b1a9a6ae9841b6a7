"""Faults of Moves and Open Humans during a backfill: bounded retries, told plainly, one file in the end.

Each test starts one worker machine, connects a member and, once their
first file is on Open Humans, has the stand-ins answer some calls badly. The
member must be shown the service that failed, in plain words, with a next
try that grows with each failure (``core.retry``: 1, 2, 4, 8 s at this time
scale, then "failing" with a try every 6 scaled hours); once the stand-ins
answer well again, the member ends current with exactly one file holding
every day once. An answer that would fail the same way every time is not
retried in a loop.
"""

import math
import time

import pytest

from sandbox import testing
from tests.faults.servers import wait_for
from tests.faults.stage import BACKFILL_SECONDS, HOUR, MINUTE, TIME_SCALE, Stage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WEEKS = 12
# core.retry at this scale: the n-th failure in a row waits BACKOFF * 2 ** (n - 1).
BACKOFF = 30 / TIME_SCALE
FAILING_EVERY = 6 * 3600 / TIME_SCALE
# A run, and the minute window in which the next one is dispatched.
SLACK = 2 * MINUTE + 1.0
FILE_KEPT = "Your file on Open Humans is unchanged and keeps its"


def first_file(stage: Stage, weeks: int = WEEKS):
    stage.start_workers()
    person = stage.connect(weeks)
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    return person


def assert_retrying(trouble, service: str, words: str, failures: int) -> None:
    """The member is shown the failed service, what happened, and a next try within the backoff."""
    card = trouble.card
    assert (trouble.row.status, trouble.row.failures) == ("retrying", failures)
    assert card.headline == f"A problem with {service}; trying again soon"
    assert card.lines[0] == words
    assert card.lines[1].startswith(FILE_KEPT)
    assert 0 < trouble.next_try_in() <= BACKOFF * 2 ** (failures - 1) + 0.5


def assert_failing(trouble, service: str, words: str, failures: int) -> None:
    """Failing: told so, with the next automatic try hours (scaled) away rather than a loop."""
    card = trouble.card
    assert (trouble.row.status, trouble.row.failures) == ("failing", failures)
    assert card.headline == f"A problem with {service}; updates are failing"
    assert card.lines[0] == words
    assert abs(trouble.next_try_in() - FAILING_EVERY) < 1


def try_again_now(person) -> None:
    """The member presses *Try again now*."""
    assert person.row().retry_now()


@pytest.mark.timeout(120)
def test_a_single_malformed_moves_answer_is_tried_again_then_completes(stage, recovered):
    person = first_file(stage)
    fault = stage.fault("moves.storyline", malformed=True)

    trouble = stage.wait_failures(person, 1)
    assert fault.taken()
    started = time.monotonic()
    took = stage.wait_current(person)

    assert_retrying(trouble, "Moves", "Moves sent an answer we could not read.", failures=1)
    end_state = stage.assert_end_state(person)
    recovered("one malformed Moves answer", end_state, time.monotonic() - started)
    assert took <= BACKOFF + SLACK + 2 * MINUTE


@pytest.mark.timeout(150)
def test_deeply_nested_json_from_moves_is_refused_every_time_and_not_looped(stage, recovered):
    person = first_file(stage)
    fault = stage.fault("moves.storyline", nested=True, count=1000)

    retrying = stage.wait_failures(person, 1)
    failing = stage.wait_failures(person, 5)
    sent = stage.counts()["moves_requests"]
    time.sleep(3 * MINUTE)
    still = person.row()
    quiet = stage.counts()["moves_requests"] == sent
    answered = fault.calls()
    testing.clear_faults()
    try_again_now(person)
    started = time.monotonic()
    took = stage.wait_current(person)

    words = "Moves sent an answer we could not read."
    assert_retrying(retrying, "Moves", words, failures=1)
    assert_failing(failing, "Moves", words, failures=5)
    # One refused week per attempt, and nothing sent once failing: no loop.
    assert (answered, still.status, still.failures, quiet) == (5, "failing", 5, True)
    assert all(machine.process.poll() is None for machine in stage.workers.machines)
    end_state = stage.assert_end_state(person)
    recovered(
        "Moves answers JSON nested 100,000 deep: 5 tries, failing; then Try again now",
        end_state,
        time.monotonic() - started,
    )
    assert took <= SLACK


@pytest.mark.timeout(120)
def test_a_huge_week_is_refused_unread_and_the_member_told(stage, recovered):
    limit = 1024 * 1024
    workers = stage.start_workers(MOVES_MAX_ANSWER_BYTES=str(limit))
    person = stage.connect(WEEKS)
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    # A week 256 times the limit: held in memory, it would take a quarter of a gigabyte.
    fault = stage.fault("moves.storyline", oversized=256 * limit)

    refused = stage.wait_failures(person, 1)
    workers.sample()
    memory = workers.memory()
    try_again_now(person)
    started = time.monotonic()
    took = stage.wait_current(person)

    assert fault.taken()
    # Too large is too large every time: failing at once, not retried in a loop.
    assert_failing(
        refused,
        "Moves",
        "Moves sent more data for one week than we can take (answer larger than 1 MB).",
        failures=1,
    )
    assert memory.peak_child_above_idle < 64, memory
    end_state = stage.assert_end_state(person)
    recovered(
        f"a week 256 x MOVES_MAX_ANSWER_BYTES: failing at once, pool process "
        f"+{memory.peak_child_above_idle:.0f} MB; then Try again now",
        end_state,
        time.monotonic() - started,
    )
    assert took <= SLACK + 2 * MINUTE


@pytest.mark.timeout(120)
def test_open_humans_refusing_each_step_of_an_upload_is_tried_again_until_one_file(stage, recovered):
    person = first_file(stage)
    # The final upload (it replaces the first file) fails at each of its three steps in turn.
    stage.fault("oh.upload_direct", status=400)
    stage.fault("oh.storage_put", status=500)
    last = stage.fault("oh.upload_complete", status=503)

    troubles = [stage.wait_failures(person, failures) for failures in (1, 2, 3)]
    stage.wait(last.taken, 5, "the last fault")
    started = time.monotonic()
    took = stage.wait_current(person)

    refused = "Open Humans refused a request (HTTP 400)."
    down = "Open Humans is not answering right now."
    assert_retrying(troubles[0], "Open Humans", refused, failures=1)
    assert_retrying(troubles[1], "Open Humans", down, failures=2)
    assert_retrying(troubles[2], "Open Humans", down, failures=3)
    end_state = stage.assert_end_state(person)
    recovered(
        "Open Humans 400, 500, 503 on the three steps of an upload", end_state, time.monotonic() - started
    )
    assert took <= 4 * BACKOFF + SLACK


@pytest.mark.timeout(120)
def test_open_humans_refusing_to_delete_the_replaced_file_is_tried_again_until_one_file(stage, recovered):
    person = first_file(stage)
    stage.fault("oh.delete", status=400)
    last = stage.fault("oh.delete", status=502)

    troubles = [stage.wait_failures(person, failures) for failures in (1, 2)]
    stage.wait(last.taken, 5, "the last fault")
    started = time.monotonic()
    took = stage.wait_current(person)

    refused = "Open Humans refused a request (HTTP 400)."
    assert_retrying(troubles[0], "Open Humans", refused, failures=1)
    assert_retrying(troubles[1], "Open Humans", "Open Humans is not answering right now.", failures=2)
    end_state = stage.assert_end_state(person)
    recovered(
        "Open Humans 400, then 502 on deleting the replaced file", end_state, time.monotonic() - started
    )
    assert took <= 2 * BACKOFF + SLACK


@pytest.mark.timeout(120)
def test_open_humans_429_with_an_absurd_retry_after_never_waits_beyond_the_hour(stage, recovered):
    person = first_file(stage)
    values = ["1e9", "inf", "soon, we hope"]
    faults = [stage.fault("oh.upload_direct", status=429, retry_after=value) for value in values]

    troubles = [stage.wait_failures(person, failures) for failures in (1, 2, 3)]
    stage.wait(faults[-1].taken, 5, "the last fault")
    started = time.monotonic()
    took = stage.wait_current(person)

    for failures, trouble in enumerate(troubles, start=1):
        assert_retrying(trouble, "Open Humans", "Open Humans is not answering right now.", failures)
        row = trouble.row
        for moment in (row.not_before, row.next_batch_at):
            assert moment is None or (moment - row.last_error_at).total_seconds() <= HOUR
    end_state = stage.assert_end_state(person)
    recovered("Open Humans 429, Retry-After 1e9, inf, garbage", end_state, time.monotonic() - started)
    assert took <= 4 * BACKOFF + SLACK


@pytest.mark.timeout(120)
def test_a_429_from_moves_is_no_failure_and_the_backfill_goes_on_in_the_next_minute(stage, recovered):
    person = first_file(stage)
    refused = stage.fault("moves.storyline", status=429, retry_after="1e9")
    stage.wait(refused.taken, BACKFILL_SECONDS, "the 429")
    sent = stage.counts()["moves_requests"]
    statuses: set[str] = set()

    def sending_again() -> bool:
        statuses.add(person.row().status)
        return stage.counts()["moves_requests"] > sent or person.is_current()

    waited = stage.wait(sending_again, HOUR, "a Moves request after the 429")
    started = time.monotonic()
    stage.wait_current(person)

    # Not a failure, and no Retry-After of 1e9 seconds: Moves' minute resets soon.
    assert statuses <= {"backfilling", "current"}, statuses
    assert waited <= 2 * MINUTE + 1
    end_state = stage.assert_end_state(person, moves_429=1)
    recovered(
        f"Moves 429 with Retry-After 1e9 (next request after {waited:.1f} s)",
        end_state,
        time.monotonic() - started + waited,
    )


@pytest.mark.timeout(120)
def test_after_a_429_from_moves_nothing_is_sent_until_its_minute_is_over(stage):
    person = first_file(stage)
    refused = stage.fault("moves.storyline", status=429)
    # Closely: the next run may start a tenth of a second after the 429.
    assert wait_for(refused.taken, BACKFILL_SECONDS, interval=0.005)
    refused_at = time.time()
    sent = stage.counts()["moves_requests"]
    minute_ends = (math.floor(refused_at / stage.minute) + 1) * stage.minute
    time.sleep(max(0.0, minute_ends - time.time() - 0.05))
    in_that_minute = stage.counts()["moves_requests"] - sent
    stage.wait_current(person)

    assert in_that_minute == 0
