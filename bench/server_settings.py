"""Settings of the benchmark's sandbox server: the project's own, serving only the sandbox.

The benchmark talks to nothing but the stand-in Moves and Open Humans
servers, so their process does not need (or load) the app's views.
"""

from demotemplate.settings import *  # noqa: F403

ROOT_URLCONF = "bench.server_urls"
