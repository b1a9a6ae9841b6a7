"""Two worker machines and one member: runs never overlap, and a dead machine's member moves on.

Each machine is what a worker dyno is: its own WORKER_NAME (its own queue,
``history.<name>``) and its own DATA_WORK_DIR. A member's runs go to the
machine that keeps their history while it is alive; the member's lease
keeps a second run (a message delivered twice, a run sent to the other
machine) from touching them while one is running. When the member's
machine dies, the dispatcher takes it for gone after three silent minute
windows and sends the member to the live machine, which rebuilds the
history from the file on Open Humans and goes on.
"""

import re
import time
from datetime import datetime

import pytest

from datauploader.machines import ALIVE_WINDOWS
from tests.faults.stage import BACKFILL_SECONDS, LEASE, Stage, unsent_weeks

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RUN_LINE = re.compile(
    r"^(\S+ \S+) INFO celery\.app\.trace Task datauploader\.process_moves\[[^\]]+\] "
    r"succeeded in ([0-9.]+)s: '([^']*)'",
    re.MULTILINE,
)


def runs(stage: Stage) -> list[tuple[float, float, str, str]]:
    """(start, end, machine, outcome) of every run that held the lease, from Celery's line at each end."""
    found = []
    for machine in stage.workers.machines:
        for stamp, seconds, outcome in RUN_LINE.findall(machine.log_text()):
            if outcome == "busy":
                continue
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
            found.append((end - float(seconds), end, machine.name, outcome))
    return sorted(found)


def overlaps(found: list[tuple[float, float, str, str]]) -> list[str]:
    """Runs that began before an earlier one had ended."""
    problems = []
    latest = None
    for run in found:
        if latest is not None and run[0] < latest[1]:
            problems.append(f"{latest[2]} until {latest[1]:.3f}, {run[2]} from {run[0]:.3f}")
        if latest is None or run[1] > latest[1]:
            latest = run
    return problems


def a_batch(stage: Stage) -> dict[str, int]:
    """One Moves request reserved from the app's own quota, as the dispatcher would."""
    quota = stage.quota()
    batch = None
    while batch is None:
        batch = quota.reserve(1)
        time.sleep(0.05)
    return batch.as_task_argument()


def other(number: int) -> int:
    return 2 if number == 1 else 1


@pytest.mark.timeout(150)
def test_a_run_sent_to_the_other_machine_while_one_runs_gives_its_batch_back(stage, recovered):
    from celery import Celery

    stage.start_workers(machines=2)
    person = stage.connect()
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    home = int(person.row().worker_home.rsplit("-", 1)[1])
    # A week held at the stand-in for a while: the home machine's run is alive meanwhile.
    held = stage.fault("moves.storyline", delay=3 * LEASE)
    stage.wait(held.taken, BACKFILL_SECONDS, "a week being fetched")
    lease = person.row().lease_token

    sender = Celery("faults-sender", broker=stage.app_redis.url, set_as_current=False)
    try:
        sender.send_task(
            "datauploader.process_moves",
            args=[person.oh_id, a_batch(stage)],
            queue=f"history.machine-{other(home)}",
        )
    finally:
        sender.close()
    stage.wait(
        lambda: "another run holds the member" in stage.log(other(home)), 10, "the second run giving up"
    )
    still_held = person.row().lease_token == lease
    started = time.monotonic()
    took = stage.wait_current(person)

    assert still_held
    assert overlaps(runs(stage)) == []
    assert {machine for _, _, machine, _ in runs(stage)} == {f"machine-{home}"}
    end_state = stage.assert_end_state(person)
    recovered("a second run of the member sent to the other machine", end_state, time.monotonic() - started)
    # The held week, then the rest of the backfill.
    assert took <= 3 * LEASE + BACKFILL_SECONDS / 2


def kill_home_and_wait_for_the_move(stage: Stage, person) -> tuple[float, float]:
    """Kill the member's machine; returns (when, seconds until their runs went to the other machine)."""
    home = int(person.row().worker_home.rsplit("-", 1)[1])
    moved_to = f"machine-{other(home)}"
    stage.workers.kill(home)
    killed = time.monotonic()
    moved = stage.wait(
        lambda: person.row().worker_home == moved_to, 60, f"the member's runs going to {moved_to}"
    )
    return killed, moved


@pytest.mark.timeout(150)
def test_the_member_of_a_dead_machine_moves_to_the_live_one_within_minutes(stage, recovered):
    stage.start_workers(machines=2)
    person = stage.connect()
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")
    # The next week is held at the stand-in, so the machine dies holding nothing unsent.
    held = stage.fault("moves.storyline", status=503, delay=10.0)
    stage.wait(held.taken, BACKFILL_SECONDS, "the next week being fetched")

    killed, moved = kill_home_and_wait_for_the_move(stage, person)
    stage.wait_current(person)

    assert overlaps(runs(stage)) == []
    end_state = stage.assert_end_state(person)
    recovered(
        f"the member's machine killed; runs on the other after {moved:.1f} s",
        end_state,
        time.monotonic() - killed,
    )
    # Its lease runs out, three silent minute windows, then the next minute's dispatch.
    assert moved <= LEASE + (ALIVE_WINDOWS + 2) * stage.minute + 1


@pytest.mark.timeout(150)
def test_weeks_a_dead_machine_fetched_but_never_uploaded_are_fetched_again(stage, recovered):
    stage.start_workers(machines=2)
    person = stage.connect()
    stage.wait(lambda: unsent_weeks(person) >= 2, BACKFILL_SECONDS, "weeks fetched since the first file")

    killed, _ = kill_home_and_wait_for_the_move(stage, person)
    stage.wait_current(person)

    end_state = stage.assert_end_state(person)
    recovered("the member's machine killed holding weeks not uploaded", end_state, time.monotonic() - killed)
