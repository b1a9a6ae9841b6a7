"""The one retry policy: growing backoff, a cap on failures in a row, and permanent failures at once."""

from datetime import timedelta

import pytest

from core.retry import NextTry, next_try


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240)],
    ids=["first", "second", "third", "fourth"],
)
def test_next_try_backs_off_doubling_from_thirty_seconds(failures, seconds):
    assert next_try(failures) == NextTry(timedelta(seconds=seconds), exhausted=False)


@pytest.mark.parametrize("failures", [5, 6, 40])
def test_next_try_after_five_failures_in_a_row_is_every_six_hours(failures):
    assert next_try(failures) == NextTry(timedelta(hours=6), exhausted=True)


def test_next_try_of_a_permanent_failure_is_failing_at_once():
    assert next_try(1, permanent=True) == NextTry(timedelta(hours=6), exhausted=True)


def test_next_try_counts_a_first_failure_of_zero_as_the_first():
    assert next_try(0) == NextTry(timedelta(seconds=30), exhausted=False)


def test_next_try_follows_the_settings(settings):
    settings.RETRY_BACKOFF_SECONDS = 10
    settings.RETRY_MAX_FAILURES = 3
    settings.FAILING_RETRY_SECONDS = 600

    assert [next_try(n) for n in (1, 2, 3)] == [
        NextTry(timedelta(seconds=10), exhausted=False),
        NextTry(timedelta(seconds=20), exhausted=False),
        NextTry(timedelta(seconds=600), exhausted=True),
    ]


def test_next_try_is_compressed_with_the_quota_windows(settings):
    settings.RATE_LIMIT_TIME_SCALE = 30

    assert (next_try(2), next_try(1, permanent=True)) == (
        NextTry(timedelta(seconds=2), exhausted=False),
        NextTry(timedelta(seconds=720), exhausted=True),
    )
