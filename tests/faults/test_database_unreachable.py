"""PostgreSQL unreachable for a while: runs fail, nobody is stranded, and a broken upload is cleaned up.

The app's processes reach PostgreSQL through a TCP proxy of the test's own
(``CuttableProxy``); cutting it drops every open connection and refuses new
ones, as a database that went away (a failover, a network cut). The test
process and the stand-ins reach PostgreSQL directly.
"""

import time

import pytest

from tests.faults.stage import BACKFILL_SECONDS, LEASE, MINUTE, Stage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

OUTAGE = 4 * MINUTE
# The lease of a run cut off by the outage runs out, then a minute's tick hands out a batch.
RESUME_SECONDS = LEASE + 3 * MINUTE


def through_proxy(stage: Stage):
    proxy = stage.database_proxy()
    stage.start_workers(DATABASE_URL=stage.database_url_via(proxy))
    return proxy


@pytest.mark.timeout(150)
def test_the_database_away_mid_backfill_then_back_the_member_is_retried_and_completes(stage, recovered):
    proxy = through_proxy(stage)
    person = stage.connect()
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")

    proxy.cut()
    time.sleep(OUTAGE)
    before = stage.counts().get("moves_requests", 0)
    proxy.restore()
    restored = time.monotonic()
    stage.wait(
        lambda: stage.counts().get("moves_requests", 0) > before or person.is_current(),
        RESUME_SECONDS + 10,
        "a run after the database came back",
    )
    resumed = time.monotonic() - restored
    stage.wait_current(person)

    assert all(machine.process.poll() is None for machine in stage.workers.machines)
    end_state = stage.assert_end_state(person)
    recovered(
        f"PostgreSQL unreachable for {OUTAGE:.0f} s mid-backfill (resumed after {resumed:.1f} s)",
        end_state,
        time.monotonic() - restored,
    )
    assert resumed <= RESUME_SECONDS


@pytest.mark.timeout(150)
def test_the_database_lost_just_after_an_upload_leaves_one_file_once_the_next_attempt_ran(stage, recovered):
    proxy = through_proxy(stage)
    person = stage.connect()
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    # The final upload's last step is held a second; the database goes while it is.
    complete = stage.fault("oh.upload_complete", delay=1.0)
    stage.wait(complete.taken, BACKFILL_SECONDS, "the final upload's last step")

    proxy.cut()
    time.sleep(OUTAGE)
    left_behind = person.row().pending_file_id
    completed = [file.pk for file in person.files()]
    proxy.restore()
    restored = time.monotonic()
    took = stage.wait_current(person)

    # Open Humans completed the upload the database could not record: two files for a while.
    assert left_behind is not None and left_behind in completed and len(completed) == 2
    end_state = stage.assert_end_state(person)
    assert person.row().file_id != left_behind
    recovered(
        "PostgreSQL lost between an upload's completion and its record",
        end_state,
        time.monotonic() - restored,
    )
    assert took <= RESUME_SECONDS + 4 * MINUTE
