"""A worker killed with ``kill -9`` at any step of a backfill: another run resumes within the lease.

The member's backfill has put a first file on Open Humans; then the stand-in
holds one call of the step in question (a fault with a delay), and while
that call hangs, the pool process running the member's run is killed with
SIGKILL, or the whole machine is (and started again, as a dyno restarts).

Nothing tells the app the run died: its lease simply stops being extended.
Within the lease plus a minute window a new run holds the member; in the end
Open Humans holds exactly one file with every day once, and the member is
current.
"""

import os
import shutil
import signal
import time
from dataclasses import dataclass

import pytest

from bench.processes import kill_group
from tests.faults.stage import BACKFILL_SECONDS, LEASE, MINUTE, unsent_weeks

pytestmark = [pytest.mark.faults, pytest.mark.slow]

# From the kill to a new run holding the member: the lease runs out, the next
# minute's dispatch hands out a batch, the run starts.
RESUME_SECONDS = LEASE + 2 * MINUTE + 1.0
# A held call lasts this long, then answers an error to nobody (the process is dead).
HOLD = 5.0


@dataclass(frozen=True)
class Step:
    name: str
    endpoint: str
    # The stand-in answers this after holding the call (None: it then does the call's work).
    status: int | None
    hold: float


STEPS = [
    Step("while fetching a week", "moves.storyline", 503, HOLD),
    Step("after the upload's first step", "oh.storage_put", 503, HOLD),
    Step("after the PUT", "oh.upload_complete", 503, HOLD),
    # The call completes the upload a second after the run died: the file is
    # complete on Open Humans, and we never heard of it.
    Step("after complete", "oh.upload_complete", None, 1.0),
    Step("before the old file's delete", "oh.delete", 503, HOLD),
]


def kill_at(stage, person, step: Step) -> str:
    """Hold ``step`` of the member's backfill at the stand-in; returns the lease of the run held there."""
    # The first file is there: the next upload replaces it (and deletes it).
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    fault = stage.fault(step.endpoint, status=step.status, delay=step.hold)
    stage.wait(fault.taken, BACKFILL_SECONDS, f"the backfill reaching {step.endpoint}")
    return person.row().lease_token


def resumed(person, killed_lease: str) -> bool:
    row = person.row()
    return row.lease_token not in ("", killed_lease) or person.is_current()


def kill_the_pool_process(stage, recovered, person, lease: str, when: str) -> float:
    """SIGKILL the one pool process, see the member current again; returns the seconds until a new run."""
    [pid] = stage.pool_pids()
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    resume = stage.wait(lambda: resumed(person, lease), RESUME_SECONDS + 10, "a new run")
    stage.wait_current(person)
    end_state = stage.assert_end_state(person)
    recovered(
        f"pool process killed {when} (resumed after {resume:.1f} s)", end_state, time.monotonic() - killed_at
    )
    return resume


def step_id(step: Step) -> str:
    return step.name.replace(" ", "-").replace("'", "")


@pytest.mark.timeout(150)
@pytest.mark.parametrize("step", STEPS, ids=step_id)
def test_a_killed_pool_process_is_resumed_within_the_lease(stage, recovered, step):
    stage.start_workers()
    person = stage.connect()
    lease = kill_at(stage, person, step)

    resume = kill_the_pool_process(stage, recovered, person, lease, step.name)

    assert resume <= RESUME_SECONDS
    assert stage.workers.machines[0].process.poll() is None, "the worker's main process died"


@pytest.mark.timeout(150)
def test_a_run_killed_before_its_first_moves_request_is_replaced_within_the_lease(stage, recovered):
    """The run holds the lease and has taken its ticket, but has not claimed its batch yet."""
    stage.start_workers()
    # A new member's first run reads their files on Open Humans before it asks Moves anything.
    fault = stage.fault("oh.exchange_member", status=503, delay=HOLD)
    person = stage.connect()
    stage.wait(fault.taken, BACKFILL_SECONDS, "the first run reading the member's files")
    lease = person.row().lease_token

    resume = kill_the_pool_process(stage, recovered, person, lease, "before its first Moves request")

    assert resume <= RESUME_SECONDS


@pytest.mark.timeout(150)
@pytest.mark.parametrize("step", [STEPS[0], STEPS[2]], ids=step_id)
def test_a_killed_machine_started_again_resumes_within_the_lease(stage, recovered, step):
    workers = stage.start_workers()
    person = stage.connect()
    lease = kill_at(stage, person, step)

    workers.kill(1)
    killed_at = time.monotonic()
    workers.restart(1)

    stage.wait(lambda: resumed(person, lease), RESUME_SECONDS + 10, "a new run")
    resume = time.monotonic() - killed_at
    stage.wait_current(person)
    end_state = stage.assert_end_state(person)
    recovered(
        f"machine killed {step.name}, restarted (resumed after {resume:.1f} s)",
        end_state,
        time.monotonic() - killed_at,
    )
    # The machine starts again within a few seconds, while the lease runs out.
    assert resume <= RESUME_SECONDS + 5


@pytest.mark.timeout(150)
def test_a_worker_stopped_mid_backfill_and_started_on_an_empty_disk_loses_nothing(stage, recovered):
    """Heroku's daily restart: SIGTERM, 30 seconds to stop, and a new dyno with an empty disk."""
    workers = stage.start_workers()
    machine = workers.machines[0]
    person = stage.connect()
    stage.wait(lambda: unsent_weeks(person) >= 2, BACKFILL_SECONDS, "weeks fetched since the first file")

    machine.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    machine.process.wait(30)
    kill_group(machine.process)
    shutil.rmtree(machine.env["DATA_WORK_DIR"])
    workers.restart(1)
    stage.wait_current(person)

    assert "worker stopping: flushed for" in machine.log_text()
    end_state = stage.assert_end_state(person)
    recovered(
        "worker stopped (SIGTERM) mid-backfill, started on an empty disk",
        end_state,
        time.monotonic() - stopped_at,
    )
