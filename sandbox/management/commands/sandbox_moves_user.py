"""Create a sandbox Moves user (and optionally a token pair) from the command line."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox import synthetic, testing
from sandbox.models import SandboxMovesUser


class Command(BaseCommand):
    help = "Create a sandbox Moves user with a synthetic history; prints its id (and tokens with --tokens)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--first-date", type=date.fromisoformat, help="First day with data (YYYY-MM-DD).")
        parser.add_argument("--days", type=int, help="Length of the history in days.")
        parser.add_argument("--city", choices=sorted(synthetic.CITIES), help="Where the person lives.")
        parser.add_argument("--time-zone", help="The current time zone (an IANA name); default: the city's.")
        parser.add_argument("--tokens", action="store_true", help="Also issue an access and refresh token.")

    def handle(self, *args, name: str, first_date, days, city, time_zone, tokens: bool, **options) -> None:
        if SandboxMovesUser.objects.filter(name=name).exists():
            raise CommandError(f"A sandbox Moves user called {name!r} exists already.")
        try:
            user = testing.create_moves_user(
                name, first_date=first_date, days=days, time_zone=time_zone, city=city
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        last = user.last_date.isoformat() if user.last_date else "today"
        self.stdout.write(
            f"user_id={user.moves_id} first_date={user.first_date.isoformat()} last_date={last} "
            f"city={user.city} time_zone={user.time_zone}"
        )
        if tokens:
            access, refresh = testing.issue_moves_tokens(user)
            self.stdout.write(f"access_token={access}\nrefresh_token={refresh}")
