"""Declared shapes of the upstream replies we read, validated with pydantic.

Each model requires only the keys the project uses and ignores every other
key, so a reply that grows a field, or loses one we never read, is not a
failure (Open Humans dropped ``message_permission`` in 2019; a client that
insisted on it stopped working). pydantic is used rather than hand-written
``isinstance`` checks because the declarations double as documentation of
what we depend on, and its errors say exactly which key was wrong.
"""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from apiclients.dates import parse_day


class Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


MovesDay = Annotated[date, BeforeValidator(parse_day)]


# --- OAuth 2.0 (both services; RFC 6749 section 5.1) ---------------------------


class TokenReply(Reply):
    access_token: StrictStr = Field(min_length=1)
    refresh_token: StrictStr = Field(min_length=1)
    expires_in: StrictInt = Field(gt=0)
    # Moves names the account it issued the token for; Open Humans does not.
    user_id: StrictInt | None = None


class OAuthErrorReply(Reply):
    error: StrictStr


# --- Moves (https://dev.moves-app.com/docs/api_profile, api_storyline) ----------


class MovesTimeZone(Reply):
    id: StrictStr | None = None


class MovesProfileDetails(Reply):
    firstDate: MovesDay | None = None
    currentTimeZone: MovesTimeZone | None = None


class MovesProfileReply(Reply):
    userId: StrictInt
    profile: MovesProfileDetails


class StorylineDay(Reply):
    """One day of a storyline answer. Only its date and ``lastUpdate`` are read; the day is kept whole."""

    date: MovesDay
    lastUpdate: StrictStr | None = None
    summary: list[Any] | None = None
    segments: list[Any] | None = None


# --- Open Humans (https://www.openhumans.org/direct-sharing/oauth2-features/) ---


class ProjectReply(Reply):
    id_label: StrictStr = Field(min_length=1)


class RemoteFileReply(Reply):
    id: StrictInt
    basename: StrictStr
    download_url: StrictStr
    # Absent or null means "not known to be ours": such a file is never touched.
    source: StrictStr | None = None


class ExchangeMemberPage(Reply):
    project_member_id: StrictStr | None = None
    username: StrictStr | None = None
    data: list[RemoteFileReply] = []
    next: StrictStr | None = None


class UploadTargetReply(Reply):
    id: StrictInt
    url: StrictStr = Field(min_length=1)


class UploadCompleteReply(Reply):
    status: Literal["ok"]
    size: StrictInt


class DeleteReply(Reply):
    ids: list[StrictInt]
