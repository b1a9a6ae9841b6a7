"""The worker's clock: it ticks every (scaled) minute on the worker's timer, and survives a failed tick."""

import time
from types import SimpleNamespace

import pytest
from celery.utils.timer2 import Timer

from datauploader import machines, ticker

# The clock runs in its own thread, which may open a database connection of its own.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    timer = Timer()
    yield SimpleNamespace(timer=timer)
    timer.stop()


def test_the_clock_dispatches_at_every_window_and_says_the_machine_is_alive(
    worker, settings, monkeypatch, redis_db
):
    settings.RATE_LIMIT_TIME_SCALE = 60  # one-second minutes
    ticks: list[float] = []
    monkeypatch.setattr(ticker.Dispatcher, "dispatch", lambda self: ticks.append(time.time()))
    monkeypatch.setattr(ticker, "prune_local_histories", lambda: 0)
    clock = ticker.Ticker(worker)
    clock.start(worker)
    time.sleep(3.5)
    clock.stop(worker)
    assert len(ticks) >= 3
    # Each tick falls just after the top of a (scaled) minute.
    assert all(moment % 1 < 0.5 for moment in ticks)
    assert machines.alive(redis_db) == [settings.WORKER_NAME]


def test_a_failing_tick_does_not_stop_the_clock(worker, settings, monkeypatch):
    settings.RATE_LIMIT_TIME_SCALE = 60
    ticks: list[float] = []

    def fail(self) -> None:
        ticks.append(time.time())
        raise ConnectionError("the database is away")

    monkeypatch.setattr(ticker.Dispatcher, "dispatch", fail)
    monkeypatch.setattr(ticker, "prune_local_histories", lambda: 0)
    clock = ticker.Ticker(worker)
    clock.start(worker)
    time.sleep(2.5)
    clock.stop(worker)
    assert len(ticks) >= 2


def test_the_clock_starts_again_after_the_broker_connection_was_lost(worker, settings, monkeypatch):
    # Celery empties the timer when the broker connection drops, then stops
    # and starts the consumer's steps once it is back.
    settings.RATE_LIMIT_TIME_SCALE = 60
    ticks: list[float] = []
    prunes: list[int] = []
    monkeypatch.setattr(ticker.Dispatcher, "dispatch", lambda self: ticks.append(time.time()))
    monkeypatch.setattr(ticker, "prune_local_histories", lambda: prunes.append(1) or 0)
    clock = ticker.Ticker(worker)
    clock.start(worker)
    clock.stop(worker)
    worker.timer.clear()
    time.sleep(1.5)
    assert ticks == []
    clock.start(worker)
    time.sleep(2.5)
    clock.shutdown(worker)
    assert len(ticks) >= 2
    # The local histories are looked over once per process, not at every reconnect.
    assert prunes == [1]
