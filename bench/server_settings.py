"""Settings of every process of a benchmark run: the project's own, with the stand-ins' models installed.

The orchestrator seeds both sides (the app's members and the sandbox's
accounts) in the one benchmark database, the worker runs the app, and
``manage.py run_sandbox`` (which serves ``sandbox.urls`` whatever
ROOT_URLCONF says) answers as Moves and Open Humans, counting what reaches
it in Redis (SANDBOX_REQUEST_COUNTS_KEY, see ``bench.counting``).
"""

from demotemplate.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F405
