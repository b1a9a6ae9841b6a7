"""The Celery app, configured from Django settings (the CELERY_* names).

Logging: Celery would replace the root logger's handlers with its own, and
the redaction filter of ``settings.LOGGING`` would then never see the
worker's lines. Connecting ``setup_logging`` makes Celery leave logging to
Django's configuration, so web and worker log through the same handlers and
the same filter.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demotemplate.settings")

app = Celery("datauploader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# The worker's clock and its own queue (named, so that importing this module
# at Django start-up loads no models).
app.steps["consumer"].add("datauploader.ticker:Ticker")
app.steps["consumer"].add("datauploader.ticker:OwnQueue")
