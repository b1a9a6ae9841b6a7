"""Settings of the benchmark's orchestrator: the app's (``bench.app_settings``), with the stand-ins' models.

The orchestrator seeds both sides (the app's members and the stand-ins'
accounts) in the one benchmark database and reads both sides' results;
migrations run with these settings, so that database holds both sets of
tables. The stand-ins' server itself runs on ``sandbox.settings`` and the
app's processes on ``bench.app_settings`` (see ``bench.env``).
"""

from bench.app_settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F405
