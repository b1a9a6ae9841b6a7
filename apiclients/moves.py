"""Client of the Moves API v1.1 (https://dev.moves-app.com/docs/api, retired in 2018).

OAuth: https://dev.moves-app.com/docs/authentication; profile:
https://dev.moves-app.com/docs/api_profile; storyline:
https://dev.moves-app.com/docs/api_storyline. Data calls take one slot of
every realm in ``settings.MOVES_REALMS``, because Moves counts requests per
client app across all members.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings

from apiclients.errors import MalformedResponse
from apiclients.http import bearer, json_body, send
from apiclients.oauth import TokenGrant, parse_token_reply

SERVICE = "Moves"


@dataclass(frozen=True)
class MovesProfile:
    user_id: int
    first_date: date | None
    time_zone: str | None


class MovesClient:
    def __init__(
        self,
        *,
        api_base_url: str | None = None,
        oauth_base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        requester: Any = None,
        session: requests.Session | None = None,
    ) -> None:
        self.api_base_url = (api_base_url or settings.MOVES_API_BASE_URL).rstrip("/")
        self.oauth_base_url = (oauth_base_url or settings.MOVES_OAUTH_BASE_URL).rstrip("/")
        self.client_id = client_id or settings.MOVES_CLIENT_ID
        self.client_secret = client_secret or settings.MOVES_CLIENT_SECRET
        self.redirect_uri = redirect_uri or settings.MOVES_REDIRECT_URI
        self.requester = requester or settings.MOVES_REQUESTER
        self.realms = list(settings.MOVES_REALMS)
        self.session = session or requests.Session()

    def authorize_url(self, state: str) -> str:
        """Where to send the member to approve access (web flow)."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "scope": "activity location",
                "redirect_uri": self.redirect_uri,
                "state": state,
            }
        )
        return f"{self.oauth_base_url}/authorize?{query}"

    def exchange_code(self, code: str) -> TokenGrant:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        )

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def profile(self, access_token: str) -> MovesProfile:
        """The member's Moves user id, first day with data and time zone."""
        data = self._get(access_token, "/user/profile")
        if not isinstance(data, dict) or not _is_int(data.get("userId")):
            raise MalformedResponse(SERVICE, "profile lacks an integer userId", 200)
        profile = data.get("profile")
        if not isinstance(profile, dict):
            raise MalformedResponse(SERVICE, "profile lacks a profile object", 200)
        first = profile.get("firstDate")
        first_date = None if first is None else _parse_day(first, "profile firstDate")
        zone = profile.get("currentTimeZone")
        time_zone = zone.get("id") if isinstance(zone, dict) else None
        if time_zone is not None and not isinstance(time_zone, str):
            raise MalformedResponse(SERVICE, "profile time zone id is not a string", 200)
        return MovesProfile(user_id=data["userId"], first_date=first_date, time_zone=time_zone)

    def storyline_week(self, access_token: str, year: int, week: int) -> list[dict]:
        """The storyline days (with track points) of ISO week ``year``-W``week``, in date order."""
        data = self._get(
            access_token, f"/user/storyline/daily/{year}-W{week:02d}", params={"trackPoints": "true"}
        )
        if not isinstance(data, list):
            raise MalformedResponse(SERVICE, "storyline is not a list", 200)
        by_date: dict[date, dict] = {}
        for day in data:
            if not isinstance(day, dict):
                raise MalformedResponse(SERVICE, "storyline holds a day that is not an object", 200)
            when = _parse_day(day.get("date"), "storyline day date")
            for key in ("summary", "segments"):
                if day.get(key) is not None and not isinstance(day[key], list):
                    raise MalformedResponse(SERVICE, f"storyline day {key} is neither null nor a list", 200)
            # A day sent twice is the same day updated; the later copy wins.
            by_date[when] = day
        return [by_date[when] for when in sorted(by_date)]

    def _get(self, access_token: str, path: str, params: dict | None = None) -> Any:
        response = send(
            "GET",
            self.api_base_url + path,
            service=SERVICE,
            session=self.session,
            requester=self.requester,
            realms=self.realms,
            headers=bearer(access_token),
            params=params,
        )
        return json_body(SERVICE, response)

    def _token(self, fields: dict[str, str]) -> TokenGrant:
        # Not retried: a code is single-use and a refresh token is retired on
        # use, so repeating a request whose answer was lost would fail anyway
        # and look like a revoked grant. Not counted in the data realms either.
        response = send(
            "POST",
            f"{self.oauth_base_url}/access_token",
            service=SERVICE,
            expected=(200, 400, 401),
            session=self.session,
            retry=False,
            data={**fields, "client_id": self.client_id, "client_secret": self.client_secret},
        )
        return parse_token_reply(SERVICE, response)


def _parse_day(value: object, what: str) -> date:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise MalformedResponse(SERVICE, f"{what} is not a yyyyMMdd date", 200)
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MalformedResponse(SERVICE, f"{what} is not a valid date", 200) from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
