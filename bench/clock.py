"""A stand-in for the worker's clock, for one worker machine: ``python -m bench.clock --name NAME``.

``datauploader.ticker.Ticker`` is meant to tick at the top of every server
minute: say the machine is alive (``datauploader.machines.heartbeat``) and
hand out the quota (``datauploader.dispatch.Dispatcher``). It arms kombu's
timer with an epoch time (``time.time()``), but kombu's timer counts in
``time.monotonic()``, so its first tick lies decades ahead and it never
ticks. ``bench.scale --clock`` runs this process beside each machine to
measure the rest of the design as if the ticker ticked: the same two calls,
at the moment the Ticker computes, with nothing else changed.
"""

import argparse
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    django.setup()
    import redis
    from django.conf import settings
    from django.db import close_old_connections

    from apiclients.quota import moves_quota
    from datauploader import machines
    from datauploader.dispatch import Dispatcher

    client = redis.Redis.from_url(settings.REDIS_URL)
    while True:
        quota = moves_quota(client)
        minute = quota.minute
        _, latest = quota.server_time_bounds()
        at = quota.local_start_of(minute, minute.index(latest) + 1) + quota.margin
        time.sleep(max(0.05, at - time.time()))
        try:
            machines.heartbeat(client, args.name)
            Dispatcher(client=client).dispatch()
        except Exception as exc:
            # As the Ticker does: a missed tick is tried again at the next minute.
            print(f"clock tick failed: {exc!r}", flush=True)
        finally:
            close_old_connections()


if __name__ == "__main__":
    main()
