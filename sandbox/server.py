"""Serving the stand-ins at the root of their own origin, in their own process or a test's thread.

``SandboxHandler`` is Django's WSGI handler answering from ``sandbox.urls``
whatever ROOT_URLCONF says, so the same settings can serve the app in one
place and the stand-ins in another (the test suite does, on two ports).
"""

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

URLCONF = "sandbox.urls"


class SandboxHandler(WSGIHandler):
    def get_response(self, request):
        # BaseHandler resolves with request.urlconf when a request carries one.
        request.urlconf = URLCONF
        return super().get_response(request)


def make_server(host: str, port: int) -> ThreadedWSGIServer:
    """A threaded HTTP server for the stand-ins, bound (port 0: any free port) but not yet serving."""
    server = ThreadedWSGIServer((host, port), WSGIRequestHandler, allow_reuse_address=True)
    server.set_app(SandboxHandler())
    return server
