"""Client of the Moves API v1.1 (https://dev.moves-app.com/docs/api, retired in 2018).

OAuth: https://dev.moves-app.com/docs/authentication; profile:
https://dev.moves-app.com/docs/api_profile; storyline:
https://dev.moves-app.com/docs/api_storyline; rate limits: the API
overview. Every data call spends one request of a ``Batch`` handed out by
the app-wide quota (``apiclients.quota``) before it is sent: this is where
the Moves limit is applied, and a call without quota raises ``QuotaSpent``
instead of going out.
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from pydantic import ValidationError

from apiclients.dates import day_text, week_name
from apiclients.errors import MOVES, MalformedResponse, PermanentUpstreamError, RateLimited
from apiclients.http import bearer, json_body, send, spool
from apiclients.jsonstream import NotAList, list_items
from apiclients.oauth import TokenGrant, parse_token_reply
from apiclients.quota import Batch, MovesQuota
from apiclients.schemas import MovesProfileReply, StorylineDay

# Answers up to this size stay in memory while they are read; larger ones go to a temporary file.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024


class QuotaSpent(Exception):
    """The batch has no request left in the current server minute; nothing was sent."""


@dataclass(frozen=True)
class MovesProfile:
    user_id: int
    first_date: date | None
    time_zone: str | None


@dataclass
class StorylineAnswer:
    """Days of one storyline request, read one at a time from a spooled copy of the answer.

    ``out_of_range`` is set when Moves answered 400 for a period outside the
    user's history (before firstDate's week, or not yet begun in their
    calendar): nothing there yet, not an error.
    """

    out_of_range: bool = False
    size: int = 0
    _body: Any = field(default=None, repr=False)

    def days(self) -> Iterator[dict[str, Any]]:
        """Each day as Moves sent it, after checking the parts we read; raises MalformedResponse."""
        if self._body is None:
            return
        self._body.seek(0)
        try:
            for item in list_items(self._body):
                if not isinstance(item, dict):
                    raise MalformedResponse(MOVES, "storyline holds a day that is not an object", 200)
                try:
                    StorylineDay.model_validate(item)
                except ValidationError as exc:
                    raise MalformedResponse(MOVES, f"storyline day: {_first_error(exc)}", 200) from None
                yield item
        except NotAList as exc:
            raise MalformedResponse(MOVES, f"storyline: {exc}", 200) from None

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def __enter__(self) -> "StorylineAnswer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MovesClient:
    def __init__(
        self,
        *,
        quota: MovesQuota | None = None,
        api_base_url: str | None = None,
        oauth_base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.quota = quota
        self.api_base_url = (api_base_url or settings.MOVES_API_BASE_URL).rstrip("/")
        self.oauth_base_url = (oauth_base_url or settings.MOVES_OAUTH_BASE_URL).rstrip("/")
        self.client_id = client_id or settings.MOVES_CLIENT_ID
        self.client_secret = client_secret or settings.MOVES_CLIENT_SECRET
        self.redirect_uri = redirect_uri or settings.MOVES_REDIRECT_URI
        self.session = session or requests.Session()

    # --- OAuth -------------------------------------------------------------------

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

    # --- Data (each call spends one request of a batch) ------------------------------

    def profile(self, access_token: str, batch: Batch) -> MovesProfile:
        """The member's Moves user id, first day with data and current time zone."""
        response = self._get(access_token, "/user/profile", batch)
        try:
            reply = MovesProfileReply.model_validate(json_body(MOVES, response))
        except ValidationError as exc:
            raise MalformedResponse(MOVES, f"profile: {_first_error(exc)}", 200) from None
        zone = reply.profile.currentTimeZone
        return MovesProfile(
            user_id=reply.userId,
            first_date=reply.profile.firstDate,
            time_zone=zone.id if zone is not None else None,
        )

    def storyline_week(
        self, access_token: str, monday: date, batch: Batch, updated_since: str | None = None
    ) -> StorylineAnswer:
        """The storyline days (with track points) of the ISO week starting on ``monday``."""
        params = {"trackPoints": "true"}
        if updated_since:
            params["updatedSince"] = updated_since
        return self._storyline(access_token, f"/user/storyline/daily/{week_name(monday)}", params, batch)

    def storyline_changes(
        self, access_token: str, first: date, last: date, updated_since: str, batch: Batch
    ) -> StorylineAnswer:
        """Days from ``first`` to ``last`` (31 at most) changed since ``updated_since``, without track points.

        Cheap to ask for a month at a time, so it finds which weeks changed
        without fetching them whole.
        """
        params = {"from": day_text(first), "to": day_text(last), "updatedSince": updated_since}
        return self._storyline(access_token, "/user/storyline/daily", params, batch)

    def _storyline(
        self, access_token: str, path: str, params: dict[str, str], batch: Batch
    ) -> StorylineAnswer:
        response = self._get(access_token, path, batch, params=params, stream=True, expected=(200, 400))
        if response.status_code == 400:
            response.close()
            return StorylineAnswer(out_of_range=True)
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)
        try:
            size = spool(MOVES, response, body, settings.MOVES_MAX_ANSWER_BYTES)
        except BaseException:
            body.close()
            raise
        return StorylineAnswer(size=size, _body=body)

    def _get(
        self,
        access_token: str,
        path: str,
        batch: Batch,
        params: dict[str, str] | None = None,
        stream: bool = False,
        expected: tuple[int, ...] = (200,),
    ) -> requests.Response:
        if self.quota is None:
            raise PermanentUpstreamError(MOVES, "no quota to spend: data calls need a MovesQuota", None)
        if not self.quota.take(batch):
            raise QuotaSpent()
        quota = self.quota
        hour_remaining: list[str | None] = []

        def observe(response: requests.Response, sent_at: float, received_at: float) -> None:
            quota.observe(response.headers, sent_at, received_at)
            hour_remaining.append(response.headers.get("X-RateLimit-HourRemaining"))

        try:
            return send(
                "GET",
                self.api_base_url + path,
                service=MOVES,
                session=self.session,
                headers=bearer(access_token),
                params=params,
                stream=stream,
                expected=expected,
                observe=observe,
            )
        except RateLimited:
            # Moves sends no Retry-After: its quota resets at the top of the
            # (server's) minute, or of the hour when that is what ran out.
            hour_spent = bool(hour_remaining) and hour_remaining[-1] == "0"
            batch.use_up()
            raise RateLimited(MOVES, quota.rate_limited_until(hour_spent)) from None

    def _token(self, fields: dict[str, str]) -> TokenGrant:
        # Not retried: a code is single-use and a refresh token is retired on
        # use, so repeating a request whose answer was lost would fail anyway
        # and look like a revoked grant. Token calls are not data calls and
        # spend no quota.
        response = send(
            "POST",
            f"{self.oauth_base_url}/access_token",
            service=MOVES,
            expected=(200, 400, 401),
            session=self.session,
            quote_errors=False,
            data={**fields, "client_id": self.client_id, "client_secret": self.client_secret},
        )
        return parse_token_reply(MOVES, response)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "answer"
    return f"{where}: {error['msg']}"
