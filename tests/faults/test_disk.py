"""The worker's disk full, read-only or damaged: a clear failure, nothing half-written left, recovery.

The machine's DATA_WORK_DIR is a small tmpfs the test mounts (the suite runs
as root; without the right to mount, these tests are skipped). The member
must be told that our servers had a problem, with a next try; no temporary
or partial file may stay on the disk after the failed run; and once the
disk has room (or is writable) again, the member completes with one file.
A local history damaged on disk is detected and rebuilt from Open Humans.
"""

import time

import pytest

from tests.faults.stage import BACKFILL_SECONDS, MINUTE, Stage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WORDS = "Our servers had a problem (disk unavailable or full)."
# The second failure's backoff, and a run in the next minute window.
RECOVERY_SECONDS = 2.0 + 2 * MINUTE + BACKFILL_SECONDS / 2


def assert_told(trouble) -> None:
    card = trouble.card
    assert (trouble.row.status, trouble.row.error_service) == ("retrying", "our servers")
    assert card.headline == "A problem on our servers; trying again soon"
    assert card.lines[0] == WORDS
    assert 0 < trouble.next_try_in() <= 2.5


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("size", "filled_by"),
    # A week holds about 180 kB: one megabyte fills while the first weeks are written, two
    # while the first file to upload is.
    [("1m", "a week's file"), ("2m", "the file to upload")],
    ids=["filled-by-a-week", "filled-by-the-upload"],
)
def test_a_full_disk_fails_clearly_leaves_nothing_half_written_and_recovers(
    stage: Stage, recovered, size, filled_by
):
    disk = stage.disk(size)
    stage.start_workers()
    person = stage.connect()

    trouble = stage.wait_failures(person, 1)
    leftovers = disk.leftovers()
    disk.remount("size=64m")
    grown = time.monotonic()
    took = stage.wait_current(person, BACKFILL_SECONDS)

    assert_told(trouble)
    assert leftovers == []
    assert disk.leftovers() == []
    end_state = stage.assert_end_state(person)
    recovered(
        f"the worker's disk ({size}) filled by {filled_by}, then grown", end_state, time.monotonic() - grown
    )
    assert took <= RECOVERY_SECONDS


@pytest.mark.timeout(150)
def test_a_read_only_disk_fails_clearly_leaves_nothing_half_written_and_recovers(stage: Stage, recovered):
    disk = stage.disk("64m")
    stage.start_workers()
    person = stage.connect()
    stage.wait(lambda: person.row().file_id is not None, BACKFILL_SECONDS, "the first file")

    disk.remount("ro")
    trouble = stage.wait_failures(person, 1)
    disk.remount("rw")
    writable = time.monotonic()
    took = stage.wait_current(person, BACKFILL_SECONDS)

    assert_told(trouble)
    # A copy being written when the disk turned read-only cannot be removed until it is writable.
    assert disk.leftovers() == []
    end_state = stage.assert_end_state(person)
    recovered("the worker's disk read-only, then writable", end_state, time.monotonic() - writable)
    assert took <= RECOVERY_SECONDS


@pytest.mark.timeout(120)
def test_a_week_file_cut_mid_line_is_detected_and_the_history_rebuilt_from_open_humans(
    stage: Stage, recovered
):
    stage.start_workers()
    person = stage.connect(12)
    stage.wait_current(person)
    weeks = sorted((stage.work_dir / "machine-1" / person.oh_id / "weeks").glob("*.days"))
    damaged = weeks[len(weeks) // 2]
    # What a disk that lost part of a write leaves: a line cut short.
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    before = stage.counts()

    assert person.row().claim_manual_update()
    asked = time.monotonic()
    took = stage.wait_current(person)

    after = stage.counts()
    assert "local history damaged" in stage.log()
    # Rebuilt from the one download of the file; the same days are not uploaded again.
    assert (after.get("oh_gets", 0) - before.get("oh_gets", 0), after["oh_puts"]) == (1, before["oh_puts"])
    end_state = stage.assert_end_state(person)
    recovered(
        "a week file of the local history cut mid-line, then an update", end_state, time.monotonic() - asked
    )
    assert took <= 3 * MINUTE + 2
