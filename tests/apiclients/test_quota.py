import multiprocessing
import random
import time
from email.utils import formatdate

import pytest
import redis
from django.conf import settings

from apiclients.quota import (
    Batch,
    MovesQuota,
    ServerClock,
    Usage,
    ceil_seconds,
    moves_quota,
    parse_http_date,
    seconds_until,
)
from apiclients.windows import Window

# Explicit moments in 2018, so no test waits for a clock: T0 is the top of the
# minute 2018-04-25 20:33:00 UTC (minute M0), in the hour that ends at H1.
# Being in the past, they also make the clock bounds' widening with age zero,
# which keeps every boundary below exact.
T0 = 1_524_688_380.0
M0 = 25_411_473
H1 = 1_524_690_000.0


def date(moment: float) -> str:
    return formatdate(moment, usegmt=True)


def moves_headers(moment: float, minute_used: int = 0, hour_used: int = 0) -> dict[str, str]:
    """What Moves sends with every answer (its real limits are 10 and 100 in these tests)."""
    return {
        "Date": date(moment),
        "X-RateLimit-MinuteLimit": "10",
        "X-RateLimit-MinuteRemaining": str(10 - minute_used),
        "X-RateLimit-HourLimit": "100",
        "X-RateLimit-HourRemaining": str(100 - hour_used),
    }


def learn(quota: MovesQuota, minute_used: int = 0, hour_used: int = 0) -> None:
    """An answer dated T0+30 that left at T0+30.125 and arrived at T0+30.375.

    The offset of the server's clock is then known to lie in [-0.375, 0.875],
    so the server is surely in minute M0 from T0+0.375 until T0+58.875 (less
    the quota's 0.25 s margin at the end).
    """
    quota.observe(moves_headers(T0 + 30, minute_used, hour_used), T0 + 30.125, T0 + 30.375)


@pytest.fixture
def quota(redis_db: redis.Redis) -> MovesQuota:
    # These tests take our clock to be right to within a second, the Date
    # header's own resolution (the default assumes a tenth of one; see below).
    return MovesQuota(redis_db, per_minute=10, per_hour=100, safety_threshold=1, clock_accuracy=1.0)


@pytest.fixture
def clock(redis_db: redis.Redis) -> ServerClock:
    return ServerClock(redis_db, "test:clock", accuracy=1.0)


# --- ServerClock --------------------------------------------------------------------


def test_server_clock_before_any_date_assumes_one_second_either_way(clock):
    assert clock.offset_bounds(T0) == (-1.0, 1.0)


def test_server_clock_learns_bounds_from_one_date(clock):
    # The server answered within second T0+30 while we waited from .125 to .375.
    clock.observe(date(T0 + 30), T0 + 30.125, T0 + 30.375)

    assert clock.offset_bounds(T0 + 31) == (-0.375, 0.875)


def test_server_clock_narrows_with_each_date(clock):
    clock.observe(date(T0 + 30), T0 + 30.125, T0 + 30.375)

    # A server 0.25 s ahead answers at local .5 to .625 of T0+40: within its second T0+40.
    clock.observe(date(T0 + 40), T0 + 40.5, T0 + 40.625)

    assert clock.offset_bounds(T0 + 41) == pytest.approx((-0.375, 0.5), abs=1e-6)


def test_server_clock_converges_on_the_true_offset(clock):
    true_offset = 0.3
    lows, highs = [], []
    for k in range(60):
        sent = T0 + k * 1.37
        received = sent + 0.02
        # The request takes 10 ms each way; the server stamps its whole second on arrival.
        stamped = (sent + 0.01 + true_offset) // 1
        clock.observe(date(stamped), sent, received)
        lows.append(stamped - received)
        highs.append(stamped + 1 - sent)

    lo, hi = clock.offset_bounds(T0 + 100)
    assert (lo, hi) == pytest.approx((max(lows), min(highs)), abs=1e-6)
    assert lo <= true_offset <= hi
    assert hi - lo < 0.1


def test_server_clock_widens_with_age(clock):
    # The server's clock is ten seconds ahead: the Date header proves ours off.
    clock.observe(date(T0 + 40), T0 + 30.125, T0 + 30.375)

    # A day and more later, a 10 ppm clock may have drifted about a second.
    lo, hi = clock.offset_bounds(time.time() + 100_000)

    assert (lo, hi) == pytest.approx((9.625 - 1.0, 10.875 + 1.0), abs=1e-3)


def test_server_clock_agreeing_with_ours_is_taken_as_right_to_the_assumed_accuracy(redis_db):
    clock = ServerClock(redis_db, "test:clock")
    assert clock.offset_bounds(T0) == (-0.1, 0.1)
    clock.observe(date(T0 + 30), T0 + 30.125, T0 + 30.375)
    assert clock.offset_bounds(T0 + 31) == pytest.approx((-0.1, 0.1), abs=1e-6)


def test_server_clock_proven_off_is_what_the_dates_allow(redis_db):
    clock = ServerClock(redis_db, "test:clock")
    clock.observe(date(T0 + 35), T0 + 30.125, T0 + 30.375)
    assert clock.offset_bounds(T0 + 31) == pytest.approx((4.625, 5.875), abs=1e-6)


def test_server_clock_restarts_when_a_date_contradicts_the_bounds(clock):
    clock.observe(date(T0 + 30), T0 + 30.125, T0 + 30.375)

    # The server's clock was stepped 100 s forward.
    clock.observe(date(T0 + 150), T0 + 50.125, T0 + 50.375)

    assert clock.offset_bounds(T0 + 51) == pytest.approx((99.625, 100.875), abs=1e-6)


@pytest.mark.parametrize(
    "header",
    [None, "", "yesterday", "Wed, 25 Apr 2018 20:33:39 -0000", "Wed, 25 Apr 2018 20:33:39", "Wed, 99 Foo"],
)
def test_server_clock_ignores_a_missing_or_unreadable_date(clock, redis_db, header):
    clock.observe(header, T0 + 30.125, T0 + 30.375)

    assert clock.offset_bounds(T0 + 31) == (-1.0, 1.0)
    assert redis_db.exists("test:clock") == 0


def test_server_clock_keeps_its_bounds_through_an_unreadable_date(clock):
    clock.observe(date(T0 + 30), T0 + 30.125, T0 + 30.375)

    clock.observe("garbage", T0 + 40.125, T0 + 40.375)

    assert clock.offset_bounds(T0 + 41) == (-0.375, 0.875)


def test_parse_http_date_reads_the_servers_date_header():
    assert parse_http_date("Wed, 25 Apr 2018 20:33:39 GMT") == 1_524_688_419.0
    assert parse_http_date("Wed, 25 Apr 2018 22:33:39 +0200") == 1_524_688_419.0


@pytest.mark.parametrize("value", [None, "", "now", "Wed, 25 Apr 2018 20:33:39 -0000", "Wed, 25 Apr 2018"])
def test_parse_http_date_unreadable_is_none(value):
    assert parse_http_date(value) is None


# --- certain_minute -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "minute"),
    [
        (-1.25, None),
        (0.875, None),
        (0.999, None),
        (1.0, M0),
        (30.0, M0),
        (58.5, M0),
        (58.75, None),
        (59.99, None),
        (61.0, M0 + 1),
    ],
)
def test_certain_minute_without_a_known_clock_is_none_within_a_second_of_a_boundary(quota, offset, minute):
    # Our clock may be a second off, and a request takes up to 0.25 s to arrive.
    assert quota.certain_minute(T0 + offset) == minute


@pytest.mark.parametrize(
    ("offset", "minute"), [(0.25, None), (0.375, M0), (58.75, M0), (58.875, None), (60.375, M0 + 1)]
)
def test_certain_minute_with_a_known_clock_narrows_the_boundary(quota, offset, minute):
    learn(quota)

    assert quota.certain_minute(T0 + offset) == minute


def test_certain_minute_follows_the_servers_clock_not_ours(quota):
    # The server is 20 s ahead of us: its Date says T0+50 while ours says T0+30.
    quota.observe(moves_headers(T0 + 50), T0 + 30.125, T0 + 30.375)

    assert quota.certain_minute(T0 + 30.5) == M0
    assert quota.certain_minute(T0 + 40.0) is None
    assert quota.certain_minute(T0 + 45.0) == M0 + 1


# --- reserve, take, give_back -------------------------------------------------------------


def test_reserve_before_the_server_told_its_counts_hands_out_one_request(quota):
    assert quota.reserve(5, now=T0 + 30) == Batch(minute=M0, size=1)
    assert quota.free(now=T0 + 30) == 0


def test_reserve_after_the_server_told_its_counts_hands_out_the_amount(quota):
    learn(quota)

    assert quota.reserve(5, now=T0 + 30) == Batch(minute=M0, size=5)
    assert quota.usage(now=T0 + 30) == Usage(minute_used=5, minute_limit=9, hour_used=5, hour_limit=99)


def test_reserve_grants_what_is_left_then_nothing(quota):
    learn(quota)

    assert quota.reserve(7, now=T0 + 10) == Batch(minute=M0, size=7)
    assert quota.reserve(7, now=T0 + 20) == Batch(minute=M0, size=2)
    assert quota.reserve(1, now=T0 + 30) is None
    assert quota.free(now=T0 + 30) == 0


def test_reserve_nothing_or_near_a_boundary_is_none(quota, redis_db):
    learn(quota)

    assert quota.reserve(0, now=T0 + 30) is None
    assert quota.reserve(-3, now=T0 + 30) is None
    assert quota.reserve(5, now=T0 + 58.875) is None
    assert quota.usage(now=T0 + 30).minute_used == 0


def test_reserve_across_a_minute_boundary_counts_in_the_new_minute_and_the_same_hour(quota):
    learn(quota)
    assert quota.reserve(9, now=T0 + 50) == Batch(minute=M0, size=9)

    # Too little of the minute is left for a batch to be used in it.
    assert quota.reserve(9, now=T0 + 58.5) is None
    assert quota.reserve(9, now=T0 + 58.875) is None
    assert quota.reserve(9, now=T0 + 60.5) == Batch(minute=M0 + 1, size=9)

    assert quota.usage(now=T0 + 30) == Usage(9, 9, 18, 99)
    assert quota.usage(now=T0 + 90) == Usage(9, 9, 18, 99)


def test_reserve_stops_at_the_hour_limit(redis_db):
    quota = MovesQuota(redis_db, per_minute=10, per_hour=20, safety_threshold=1, clock_accuracy=1.0)
    learn(quota)

    sizes = [quota.reserve(9, now=T0 + 60 * minute + 30) for minute in range(4)]

    assert sizes == [Batch(M0, 9), Batch(M0 + 1, 9), Batch(M0 + 2, 1), None]
    assert quota.next_opening(now=T0 + 210) == pytest.approx(H1 + 0.375, abs=1e-3)


def test_take_spends_one_request_at_a_time(quota):
    learn(quota)
    batch = quota.reserve(2, now=T0 + 10)

    assert [quota.take(batch, now=T0 + 20 + n) for n in range(3)] == [True, True, False]
    assert (batch.used, batch.left) == (2, 0)


def test_take_refuses_once_the_minute_is_nearly_over(quota):
    learn(quota)
    batch = quota.reserve(3, now=T0 + 10)

    assert quota.take(batch, now=T0 + 58.75) is True
    assert quota.take(batch, now=T0 + 58.875) is False
    assert quota.take(batch, now=T0 + 61) is False
    assert (batch.used, batch.left) == (1, 2)


def test_take_a_batch_of_an_earlier_minute_is_refused(quota):
    learn(quota)
    batch = quota.reserve(3, now=T0 + 10)

    assert quota.take(batch, now=T0 + 90) is False
    assert batch.used == 0


def test_give_back_returns_the_unspent_requests_to_the_minute_and_the_hour(quota):
    learn(quota)
    batch = quota.reserve(5, now=T0 + 10)
    quota.take(batch, now=T0 + 11)
    quota.take(batch, now=T0 + 12)

    assert quota.give_back(batch) == 3

    assert (batch.size, batch.used, batch.left) == (2, 2, 0)
    assert quota.usage(now=T0 + 40) == Usage(2, 9, 2, 99)
    assert quota.give_back(batch) == 0
    assert quota.reserve(9, now=T0 + 42) == Batch(M0, 7)


def test_a_batch_given_back_after_its_minute_frees_its_hour(quota):
    learn(quota)
    batch = quota.reserve(5, now=T0 + 10)
    quota.take(batch, now=T0 + 11)
    # Its minute is over: nothing more of it can be sent...
    assert quota.take(batch, now=T0 + 61) is False

    # ...so the four never sent are free again in the hour, for the next minutes.
    assert quota.give_back(batch) == 4
    assert quota.usage(now=T0 + 61).hour_used == 1
    assert quota.reserve(9, now=T0 + 62) == Batch(M0 + 1, 9)
    assert quota.usage(now=T0 + 62) == Usage(9, 9, 10, 99)


def test_batch_travels_as_a_task_argument():
    batch = Batch(minute=M0, size=4, used=1)

    assert batch.as_task_argument() == {"minute": M0, "size": 4}
    assert Batch.from_task_argument({"minute": M0, "size": 4}) == Batch(minute=M0, size=4)


# --- free, observe -------------------------------------------------------------------------


def test_free_is_what_both_windows_have_left(redis_db):
    quota = MovesQuota(redis_db, per_minute=10, per_hour=12, safety_threshold=1)
    learn(quota, hour_used=4)

    assert quota.free(now=T0 + 30) == 7
    quota.reserve(3, now=T0 + 30)
    assert quota.free(now=T0 + 30) == 4
    assert quota.free(now=T0 + 58.875) == 0


def test_free_next_minute_counts_what_its_hour_used_so_far(redis_db):
    quota = MovesQuota(redis_db, per_minute=10, per_hour=12, safety_threshold=1)
    assert quota.free_next_minute(now=T0 + 30) == 1  # counts not known yet: one request
    learn(quota, hour_used=4)
    quota.reserve(3, now=T0 + 30)

    # The next minute is empty; its hour has 11 - 4 - 3 left.
    assert quota.free_next_minute(now=T0 + 30) == 4
    # The minute before a new hour: the next minute opens a fresh hour.
    assert quota.free_next_minute(now=H1 - 30) == 9


def test_observe_raises_our_counters_to_the_servers_counts(quota):
    quota.reserve(5, now=T0 + 20)

    learn(quota, minute_used=6, hour_used=40)

    assert quota.usage(now=T0 + 30) == Usage(6, 9, 40, 99)
    assert quota.free(now=T0 + 30) == 3
    assert quota.reserve(9, now=T0 + 31) == Batch(M0, 3)


def test_observe_never_lowers_our_counters(quota):
    learn(quota)
    quota.reserve(5, now=T0 + 20)

    learn(quota, minute_used=1, hour_used=1)

    assert quota.usage(now=T0 + 30) == Usage(5, 9, 5, 99)


def test_observe_of_a_server_over_our_limit_leaves_no_room(quota):
    learn(quota, minute_used=10, hour_used=12)

    assert quota.usage(now=T0 + 30) == Usage(10, 9, 12, 99)
    assert quota.free(now=T0 + 30) == 0
    assert quota.reserve(1, now=T0 + 30) is None
    assert quota.reserve(9, now=T0 + 90) == Batch(M0 + 1, 9)


@pytest.mark.parametrize(
    "headers",
    [
        {k: v for k, v in moves_headers(T0 + 30, 6, 40).items() if k != "Date"},
        {**moves_headers(T0 + 30, 6, 40), "Date": "garbage"},
        {**moves_headers(T0 + 30, 6, 40), "X-RateLimit-MinuteRemaining": "lots"},
        {k: v for k, v in moves_headers(T0 + 30, 6, 40).items() if k != "X-RateLimit-HourLimit"},
        {"Date": date(T0 + 30)},
    ],
    ids=["no-date", "bad-date", "bad-count", "no-hour-limit", "no-counts"],
)
def test_observe_without_readable_counts_leaves_the_quota_unknown(quota, headers):
    quota.observe(headers, T0 + 30.125, T0 + 30.375)

    assert quota.usage(now=T0 + 30) == Usage(0, 9, 0, 99)
    assert quota.reserve(5, now=T0 + 30) == Batch(M0, 1)


# --- After a 429 ------------------------------------------------------------------------------


def test_rate_limited_until_fills_the_minute_and_returns_its_end(quota):
    # Without a known clock the server may be a second either way.
    assert quota.rate_limited_until(False, now=T0 + 30) == T0 + 60 + 1 + 0.25

    assert quota.usage(now=T0 + 30) == Usage(9, 9, 0, 99)
    assert quota.free(now=T0 + 30) == 0
    assert quota.reserve(1, now=T0 + 30) is None
    assert quota.next_opening(now=T0 + 30) == T0 + 61


def test_rate_limited_until_the_hour_fills_the_hour_and_returns_its_end(quota):
    assert quota.rate_limited_until(True, now=T0 + 30) == H1 + 1 + 0.25

    assert quota.usage(now=T0 + 30) == Usage(0, 9, 99, 99)
    assert quota.reserve(1, now=T0 + 90) is None
    assert quota.next_opening(now=T0 + 30) == H1 + 1


def test_rate_limited_until_near_the_end_of_a_minute_waits_for_the_one_after(quota):
    # The server may already be in the next minute, and it refused us there.
    assert quota.rate_limited_until(False, now=T0 + 59.5) == T0 + 120 + 1 + 0.25


def test_rate_limited_until_with_a_known_clock(quota):
    learn(quota)

    assert quota.rate_limited_until(False, now=T0 + 31) == pytest.approx(T0 + 60.375 + 0.25, abs=1e-3)


def test_next_opening_is_now_while_there_is_room(quota):
    learn(quota)
    quota.reserve(8, now=T0 + 30)

    assert quota.next_opening(now=T0 + 31) == T0 + 31
    quota.reserve(1, now=T0 + 32)
    assert quota.next_opening(now=T0 + 33) == pytest.approx(T0 + 60.375, abs=1e-3)


# --- The guarantee -----------------------------------------------------------------------------


def test_no_window_ever_holds_more_than_the_limit_less_the_threshold(redis_db):
    quota = MovesQuota(redis_db, per_minute=10, per_hour=30, safety_threshold=1)
    learn(quota)
    rng = random.Random(7)
    batches: list[Batch] = []
    now = T0 + 1
    for _ in range(600):
        now += rng.uniform(0.0, 1.0)
        action = rng.random()
        if action < 0.5:
            batch = quota.reserve(rng.randint(1, 6), now=now)
            if batch is not None:
                assert batch.minute == quota.certain_minute(now)
                batches.append(batch)
        elif action < 0.8 and batches:
            quota.take(rng.choice(batches), now=now)
        elif batches:
            quota.give_back(rng.choice(batches))
        per_minute: dict[int, int] = {}
        for batch in batches:
            per_minute[batch.minute] = per_minute.get(batch.minute, 0) + batch.size
        assert max(per_minute.values(), default=0) <= 9
        assert sum(per_minute.values()) <= 29
    # Every counter matches what the batches hold: nothing lost, nothing extra.
    assert now > T0 + 240
    for minute, handed in per_minute.items():
        assert quota.usage(now=minute * 60 + 30).minute_used == handed
    assert quota.usage(now=T0 + 30).hour_used == sum(per_minute.values())
    assert sum(batch.used for batch in batches) <= 29


PROCESSES = 6


def reserve_flat_out(seed: int, start, results) -> None:
    """One worker process: its own connection, reserving as fast as it can in five minutes."""
    quota = MovesQuota(redis.Redis.from_url(settings.REDIS_URL), per_minute=10, per_hour=30)
    rng = random.Random(seed)
    got: list[tuple[int, int]] = []
    start.wait()
    for minute in range(5):
        for _ in range(10):
            batch = quota.reserve(rng.randint(1, 4), now=T0 + 60 * minute + 30)
            if batch is not None:
                got.append((batch.minute, batch.size))
    quota.client.close()
    results.put(got)


@pytest.mark.parametrize("round_", range(3))
def test_reserve_racing_processes_never_exceed_the_limit_less_the_threshold(redis_db, round_):
    learn(MovesQuota(redis_db, per_minute=10, per_hour=30))
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=reserve_flat_out, args=(round_ * PROCESSES + n, start, results))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    got = [grant for _ in workers for grant in results.get(timeout=20)]
    for worker in workers:
        worker.join(timeout=20)
        assert worker.exitcode == 0

    per_minute = [sum(size for minute, size in got if minute == M0 + m) for m in range(5)]
    assert max(per_minute) <= 9
    # Demand far exceeds the hour: it fills to exactly its limit less the threshold.
    assert sum(per_minute) == 29


# --- From the settings --------------------------------------------------------------------------


def test_moves_quota_follows_the_settings(settings, redis_db):
    settings.MOVES_REQUESTS_PER_MINUTE = 30
    settings.MOVES_REQUESTS_PER_HOUR = 500
    settings.RATE_LIMIT_TIME_SCALE = 2.0
    settings.RATE_LIMIT_SAFETY_THRESHOLD = 3

    quota = moves_quota(redis_db)

    assert quota.minute == Window("minute", 30.0, 27)
    assert quota.hour == Window("hour", 1800.0, 497)
    assert quota.margin == 0.125


def test_moves_quota_never_has_a_limit_below_one(settings, redis_db):
    settings.MOVES_REQUESTS_PER_MINUTE = 1
    settings.RATE_LIMIT_SAFETY_THRESHOLD = 5

    assert moves_quota(redis_db).minute.limit == 1


def test_seconds_until_and_ceil_seconds():
    assert seconds_until(T0 + 12.5, now=T0) == 12.5
    assert seconds_until(T0 - 5, now=T0) == 0.0
    assert [ceil_seconds(value) for value in (0.0, 0.2, 1.0, 1.01, 59.5)] == [1, 1, 1, 2, 60]


def test_before_the_server_told_its_counts_a_window_holds_one_request_in_all(quota):
    now = 1_700_000_030.0
    first = quota.reserve(5, now=now)
    assert first is not None and first.size == 1
    assert quota.reserve(5, now=now) is None
    assert quota.free(now=now) == 0


def test_the_last_tenth_of_a_minute_hands_nothing_out(quota):
    learn(quota)
    assert quota.free(now=T0 + 50) == 9
    assert quota.free(now=T0 + 54.5) == 0
    assert quota.reserve(3, now=T0 + 54.5) is None
