"""Redis lost and started empty in the middle of a backfill: the worker lives on, the quota holds.

The app's Redis (broker, quota counts, cache) is a private ``redis-server``;
the stand-in Moves counts requests in a Redis of its own, so Moves' own
counts outlive ours, as they would. The member's backfill needs more
requests than one Moves hour allows; once the app has handed out its share of
the hour, its Redis is killed and started again empty. The app has then
forgotten everything it counted: it must learn the server's counts from the
rate-limit headers of a single request before sending more, or Moves
answers 429.

Time runs 60 times faster here (a minute is 1 s, an hour 60 s), and the
stand-in Moves allows 20 requests an hour, so the backfill spans two hours.

The test runs twice: with the worker's own clock alone, and with the test
queueing a dispatch every minute window after the restart as well; the
second shows the quota's side of the story whatever the clock does.
"""

import contextlib
import math
import time

import pytest

from bench.processes import group_pids
from datauploader.machines import ALIVE_KEY
from tests.faults.stage import Stage

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SCALE = 60
PER_HOUR = 20
WEEKS = 20
DOWN_SECONDS = 2.0
# The worker's broker reconnections are not compressed: kombu tries again 2,
# then 4, then 6 s apart, so after an outage of DOWN_SECONDS the worker is
# back at most this long after Redis is.
RECONNECT_SECONDS = 6.0


def hour_left(stage: Stage) -> float:
    return math.ceil(time.time() / stage.hour) * stage.hour - time.time()


@pytest.mark.stage(scale=SCALE, per_hour=PER_HOUR)
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "clock",
    ["the worker's own", "poked by the test"],
)
def test_redis_restarted_empty_mid_backfill_the_worker_resumes_within_the_limits(stage, recovered, clock):
    workers = stage.start_workers()
    machine = workers.machines[0]
    main_pid = machine.process.pid
    # Room in this hour for our whole share of it, and time to spare.
    if hour_left(stage) < 30:
        time.sleep(hour_left(stage) + 0.5)
    person = stage.connect(WEEKS)
    ours = PER_HOUR - 1
    # Handed out, not necessarily sent: a batch whose minute ends before it is used is lost.
    stage.wait(lambda: stage.quota().usage().hour_used >= ours, 30, "our share of the hour handed out")
    _, before = stage.moves_used()
    hour = math.floor(time.time() / stage.hour)

    stage.app_redis.kill()
    time.sleep(DOWN_SECONDS)
    pool_during_outage = group_pids(main_pid)
    stage.app_redis.start()
    back = time.monotonic()
    if clock == "the worker's own":
        stage.wait(
            lambda: stage.redis().zscore(ALIVE_KEY, machine.name) is not None,
            RECONNECT_SECONDS + 3 * stage.minute,
            "the worker's clock ticking again (its heartbeat)",
        )
    with stage.dispatcher_poked() if clock == "poked by the test" else contextlib.nullcontext():
        # Until the hour ends the app may send one request, whose answer says how much of it is used.
        end_of_hour = (hour + 1) * stage.hour
        time.sleep(max(0.0, end_of_hour - time.time() - 0.3))
        _, used_in_that_hour = stage.moves_used(end_of_hour - 0.5)
        took = stage.wait_current(person, 60)

    assert machine.process.poll() is None and machine.process.pid == main_pid, stage.diagnosis()
    assert len(pool_during_outage) == 2, "the worker lost processes while Redis was down"
    assert "Unrecoverable error" not in machine.log_text()
    # It did send in that hour again: at most its share, handed out before the
    # loss, and the one request whose answer told it the server's counts, for
    # which RATE_LIMIT_SAFETY_THRESHOLD leaves room. The stand-in refused nothing.
    assert before < used_in_that_hour <= ours + 1 == PER_HOUR, stage.diagnosis()
    end_state = stage.assert_end_state(person)
    recovered(
        f"Redis killed for {DOWN_SECONDS:.0f} s, started empty (clock {clock}); rest in the next hour",
        end_state,
        time.monotonic() - back,
    )
    # The next hour began within 60 s of the restart; the rest of the backfill takes a few windows.
    assert took <= stage.hour + 10 * stage.minute
