"""Running one action from several threads at once, for the race tests."""

import threading
import time
from collections.abc import Callable

from django.db import OperationalError, connection


def race(action: Callable[[], object], threads: int = 4, rounds: int = 1) -> list[object]:
    """Run ``action`` from several threads at once; returns every result.

    The test database may be shared-cache in-memory SQLite, which reports a
    lock at once instead of waiting for it as a real server would, so a
    locked attempt is simply tried again.
    """
    results: list[object] = []
    start = threading.Barrier(threads)

    def attempt() -> object:
        while True:
            try:
                return action()
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                time.sleep(0.01)

    def worker() -> None:
        start.wait()
        for _ in range(rounds):
            results.append(attempt())
        connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return results
