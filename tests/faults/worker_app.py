"""The Celery app that the broker-loss tests run in a real worker process.

It reads every CELERY_* setting from the project's settings, as
``datauploader.celery`` does, but registers only the task below: these tests
are about the broker connection, not about the app's own tasks.
"""

import os
import time

import redis
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("faults")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="faults.mark", ignore_result=True)
def mark(redis_url: str, key: str, seconds: float = 0.0) -> None:
    """Set ``key`` in Redis, the proof that the task ran, then keep running ``seconds``."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(key, os.getpid())
    finally:
        client.close()
    time.sleep(seconds)
