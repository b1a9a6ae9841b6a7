"""Serve the stand-in Moves and Open Humans at the root of http://HOST:PORT/."""

from django.apps import apps
from django.conf import settings
from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandParser

from sandbox import outbox
from sandbox.server import make_server


class Command(BaseCommand):
    help = (
        "Serve both stand-ins (Moves, Open Humans, its storage and the control page) at the root of "
        "http://HOST:PORT/, and send their notifications and webhooks to the app. Use the sandbox's own "
        "settings: --settings=sandbox.settings."
    )

    # The URL checks would load ROOT_URLCONF, which may be the app's (the tests' and the
    # benchmark's settings serve both); this command serves sandbox.urls only.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--no-sender", action="store_true", help="Do not send notifications and webhooks (queue only)."
        )

    def handle(self, *args, port: int, host: str, no_sender: bool, **options) -> None:
        self.check(app_configs=[apps.get_app_config("sandbox")], tags=[Tags.models])
        server = make_server(host, port)
        if not no_sender:
            outbox.start_sender()
        base = f"http://{host}:{server.server_address[1]}"
        self.stdout.write(
            f"Sandbox at {base}/: Moves API {base}/api/1.1, Moves OAuth {base}/oauth/v1, Open Humans {base}; "
            f"notifications go to {settings.SANDBOX_MOVES_NOTIFICATION_URL or '(nowhere)'}",
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
