import multiprocessing
import random

import pytest
import redis
from django.conf import settings

from apiclients.windows import EXPIRY_MARGIN_SECONDS, Taken, Window, WindowCounter

MINUTE = Window("minute", 60.0, 5)
HOUR = Window("hour", 3600.0, 7)
# A moment in the middle of minute 25,411,473 (2018-04-25 20:33 UTC).
T = 25_411_473 * 60.0 + 30.0


@pytest.fixture
def counter(redis_db: redis.Redis) -> WindowCounter:
    return WindowCounter(redis_db, "test")


# --- Window ---------------------------------------------------------------------------


def test_window_index_names_fixed_clock_windows():
    assert [MINUTE.index(moment) for moment in (0.0, 59.999, 60.0, 119.999, 120.0)] == [0, 0, 1, 1, 2]
    assert (MINUTE.start(2), MINUTE.end(2)) == (120.0, 180.0)
    assert HOUR.index(T) == 423_524
    assert (HOUR.start(423_524), HOUR.end(423_524)) == (1_524_686_400.0, 1_524_690_000.0)


def test_window_index_with_a_scaled_length():
    window = Window("minute", 0.5, 3)

    assert [window.index(moment) for moment in (0.49, 0.5, 1.25)] == [0, 1, 2]


# --- take --------------------------------------------------------------------------------


def test_take_counts_in_the_window_holding_the_moment(counter, redis_db):
    assert counter.take([MINUTE], T, 2) == Taken(granted=2, counts=(2,))

    assert redis_db.get("test:minute:25411473") == b"2"
    assert counter.used([MINUTE], T - 29.999) == (2,)
    assert counter.used([MINUTE], T + 30.0) == (0,)


def test_take_all_or_nothing_grants_nothing_when_it_does_not_fit(counter):
    counter.take([MINUTE], T, 3)

    assert counter.take([MINUTE], T, 3) == Taken(granted=0, counts=(3,))
    assert counter.take([MINUTE], T, 2) == Taken(granted=2, counts=(5,))
    assert counter.take([MINUTE], T, 1) == Taken(granted=0, counts=(5,))


def test_take_partial_grants_what_fits(counter):
    counter.take([MINUTE], T, 3)

    assert counter.take([MINUTE], T, 4, partial=True) == Taken(granted=2, counts=(5,))
    assert counter.take([MINUTE], T, 4, partial=True) == Taken(granted=0, counts=(5,))


def test_take_counts_in_every_window_or_none(counter):
    assert counter.take([MINUTE, HOUR], T, 5) == Taken(granted=5, counts=(5, 5))

    # The next minute has room for 5, the hour only for 2.
    assert counter.take([MINUTE, HOUR], T + 60, 3) == Taken(granted=0, counts=(0, 5))
    assert counter.take([MINUTE, HOUR], T + 60, 3, partial=True) == Taken(granted=2, counts=(2, 7))
    assert counter.used([MINUTE, HOUR], T + 60) == (2, 7)
    assert counter.used([MINUTE, HOUR], T) == (5, 7)


def test_take_limits_override_the_windows_own(counter):
    # The stand-in doubles the limits for tokens issued within the hour.
    doubled = [2 * MINUTE.limit, 2 * HOUR.limit]

    assert counter.take([MINUTE, HOUR], T, 12, partial=True, limits=doubled) == Taken(10, (10, 10))
    assert counter.take([MINUTE, HOUR], T, 1, limits=doubled) == Taken(0, (10, 10))


def test_take_limits_must_match_the_windows(counter):
    with pytest.raises(ValueError):
        counter.take([MINUTE, HOUR], T, 1, limits=[10])


def test_take_nothing_creates_no_counter(counter, redis_db):
    assert counter.take([MINUTE], T, 0) == Taken(granted=0, counts=(0,))

    assert redis_db.keys("*") == []


def test_take_negative_amount_is_refused(counter, redis_db):
    with pytest.raises(ValueError):
        counter.take([MINUTE], T, -1)

    assert redis_db.keys("*") == []


def test_take_sets_each_counter_to_expire_after_its_window(counter, redis_db):
    counter.take([MINUTE, HOUR], T, 1)

    # 30 s left of the minute, 1,590 s of the hour, plus the margin; the
    # expiry is counted from now, so a few milliseconds may have passed.
    minute_ms = (30 + EXPIRY_MARGIN_SECONDS) * 1000
    hour_ms = (1590 + EXPIRY_MARGIN_SECONDS) * 1000
    assert minute_ms - 100 < redis_db.pttl("test:minute:25411473") <= minute_ms
    assert hour_ms - 100 < redis_db.pttl("test:hour:423524") <= hour_ms


# --- give_back and raise_to -----------------------------------------------------------


def test_give_back_uncounts_unused_uses(counter):
    counter.take([MINUTE, HOUR], T, 4)

    counter.give_back([MINUTE, HOUR], T, 3)

    assert counter.used([MINUTE, HOUR], T) == (1, 1)
    assert counter.take([MINUTE], T, 4) == Taken(granted=4, counts=(5,))


def test_give_back_never_goes_below_zero(counter):
    counter.take([MINUTE], T, 2)

    counter.give_back([MINUTE], T, 5)

    assert counter.used([MINUTE], T) == (0,)
    assert counter.take([MINUTE], T, 5) == Taken(granted=5, counts=(5,))


def test_give_back_keeps_the_expiry(counter, redis_db):
    counter.take([MINUTE], T, 2)
    before = redis_db.pttl("test:minute:25411473")

    counter.give_back([MINUTE], T, 1)

    assert 0 < redis_db.pttl("test:minute:25411473") <= before


def test_give_back_to_an_expired_counter_leaves_it_gone(counter, redis_db):
    counter.give_back([MINUTE, HOUR], T, 3)
    counter.give_back([MINUTE], T, 0)

    assert redis_db.keys("*") == []


def test_raise_to_only_raises(counter):
    counter.take([MINUTE, HOUR], T, 3)

    counter.raise_to([MINUTE, HOUR], T, [1, 6])

    assert counter.used([MINUTE, HOUR], T) == (3, 6)
    assert counter.take([MINUTE, HOUR], T, 5, partial=True) == Taken(granted=1, counts=(4, 7))


def test_raise_to_beyond_the_limit_leaves_no_room(counter):
    counter.raise_to([MINUTE], T, [9])

    assert counter.take([MINUTE], T, 1, partial=True) == Taken(granted=0, counts=(9,))


def test_raise_to_sets_the_expiry(counter, redis_db):
    counter.raise_to([MINUTE], T, [2])

    minute_ms = (30 + EXPIRY_MARGIN_SECONDS) * 1000
    assert minute_ms - 100 < redis_db.pttl("test:minute:25411473") <= minute_ms


# --- Racing processes -------------------------------------------------------------------

PROCESSES = 6
MINUTES = 8
TRIES_PER_MINUTE = 12
RACE_MINUTE = Window("minute", 60.0, 10)
RACE_HOUR = Window("hour", 3600.0, 37)


def race(prefix: str, mode: str, seed: int, start, results) -> None:
    """One process: its own connection, taking flat out from the same windows as the others."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    counter = WindowCounter(client, prefix)
    rng = random.Random(seed)
    grants: list[tuple[int, int, int]] = []
    start.wait()
    for minute in range(MINUTES):
        for _ in range(TRIES_PER_MINUTE):
            amount = rng.randint(1, 3)
            partial = mode == "partial" or (mode == "mixed" and rng.random() < 0.5)
            taken = counter.take([RACE_MINUTE, RACE_HOUR], T + 60 * minute, amount, partial=partial)
            grants.append((minute, amount, taken.granted))
    client.close()
    results.put(grants)


@pytest.mark.parametrize("mode", ["partial", "all-or-nothing", "mixed"])
def test_take_racing_processes_never_exceed_the_limit_in_any_window(redis_db, mode):
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=race, args=(f"race-{mode}", mode, seed, start, results))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    grants = [grant for _ in workers for grant in results.get(timeout=20)]
    for worker in workers:
        worker.join(timeout=20)
        assert worker.exitcode == 0

    per_minute = [sum(granted for m, _, granted in grants if m == minute) for minute in range(MINUTES)]
    assert max(per_minute) <= RACE_MINUTE.limit
    # Demand far exceeds the hour, so it fills exactly: nothing lost, nothing over.
    assert sum(per_minute) <= RACE_HOUR.limit
    if mode != "all-or-nothing":
        assert sum(per_minute) == RACE_HOUR.limit
    # All or nothing: a grant is the whole amount or none of it.
    if mode == "all-or-nothing":
        assert all(granted in (0, amount) for _, amount, granted in grants)
    # Redis counted exactly what was granted.
    counter = WindowCounter(redis_db, f"race-{mode}")
    counts = [counter.used([RACE_MINUTE], T + 60 * minute)[0] for minute in range(MINUTES)]
    assert counts == per_minute
    assert counter.used([RACE_HOUR], T) == (sum(per_minute),)
