"""URLs of the stand-in servers, at the root of their own origin like the real hosts.

The root URLconf of ``sandbox.settings``, and what ``manage.py run_sandbox``
(and the tests' ``sandbox_server`` fixture) serve whatever ROOT_URLCONF
says. The routes themselves are in ``sandbox.routes``.
"""

from django.urls import include, path

urlpatterns = [path("", include("sandbox.routes"))]
