"""Settings of the app's processes in a benchmark run (workers, web server): the project's own.

One difference: static files are served without whitenoise's manifest, as in
the test suite, because the benchmark runs from a checkout where
``collectstatic`` was never run (the manifest is built at deploy time, and
the URL configuration asks it for the favicon's name when a worker checks
the project at start-up).
"""

from demotemplate.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
