"""The sync service behind ``process_moves``: fetch new ISO weeks, upload, then replace.

Order matters for safety: the new file is uploaded and completed before the
previous one is deleted, by id, so Open Humans always holds every day it held.
"""

import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.utils import timezone

from apiclients.errors import InvalidGrant, MalformedResponse, RateLimited, Unauthorized
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient, RemoteFile
from datauploader.ratelimit import RateLimitedError
from main.models import MovesMember

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What the task should do next: nothing, or run again after ``retry_after`` seconds."""

    retry_after: float | None = None


def _day_date(day: dict) -> date:
    return datetime.strptime(day["date"], "%Y%m%d").date()


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks_from(start: date, today: date) -> list[tuple[int, int]]:
    weeks = []
    monday = _monday(start)
    while monday <= today:
        iso = monday.isocalendar()
        weeks.append((iso.year, iso.week))
        monday += timedelta(days=7)
    return weeks


def _our_files(files: list[RemoteFile]) -> list[RemoteFile]:
    return [f for f in files if f.basename == settings.MOVES_FILE_NAME]


def _read_existing(client: OpenHumansClient, existing: RemoteFile | None, oh_id: str) -> list[dict] | None:
    """The days of the member's file on Open Humans; None when it cannot be read as a day list."""
    if existing is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "existing.json"
        client.download(existing.download_url, path)
        try:
            days = json.loads(path.read_text())
            if not isinstance(days, list) or not all(isinstance(d, dict) and "date" in d for d in days):
                raise ValueError("not a list of days")
            for day in days:
                _day_date(day)
        except ValueError as exc:
            log.error(
                "process_moves %s: existing file %s is not readable (%s); it is kept", oh_id, existing.id, exc
            )
            return None
    return days


def _upload(client: OpenHumansClient, token: str, oh_id: str, days: list[dict]) -> tuple[int, int]:
    metadata = {
        "description": settings.MOVES_FILE_DESCRIPTION,
        "tags": settings.MOVES_FILE_TAGS,
        "start_date": _day_date(days[0]).isoformat(),
        "end_date": _day_date(days[-1]).isoformat(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / settings.MOVES_FILE_NAME
        path.write_text(json.dumps(days))
        uploaded = client.upload(token, oh_id, path, settings.MOVES_FILE_NAME, metadata)
    return uploaded.id, uploaded.size


def _mark(member: MovesMember, status: str, error: str = "") -> None:
    member.status = status
    member.last_error = error
    member.last_error_at = timezone.now() if error else member.last_error_at
    member.save()


def sync_member(member: MovesMember) -> SyncResult:
    """Bring the member's file on Open Humans up to the current ISO week, as far as the limits allow."""
    oh_member = member.member
    oh_id = oh_member.oh_id
    try:
        oh_token = oh_member.get_access_token()
        moves_token = member.get_access_token()
    except InvalidGrant:
        _mark(member, MovesMember.Status.NEEDS_RECONNECT, "Access was revoked. Please reconnect.")
        log.warning("process_moves %s: a refresh token was refused; member must reconnect", oh_id)
        return SyncResult()

    oh_client = OpenHumansClient()
    moves_client = MovesClient()
    files = _our_files(oh_client.exchange_member(oh_token).files)
    existing = next((f for f in files if f.id == member.file_id), None) or (
        max(files, key=lambda f: f.id) if files else None
    )
    held = _read_existing(oh_client, existing, oh_id)
    if held is None:
        _mark(member, MovesMember.Status.FAILING, "Your file on Open Humans could not be read; it was kept.")
        return SyncResult()

    today = timezone.now().date()
    if held:
        start = _monday(_day_date(held[-1]))
        days = [d for d in held if _day_date(d) < start]
    else:
        try:
            first = moves_client.profile(moves_token).first_date
        except (RateLimitedError, RateLimited) as exc:
            return SyncResult(retry_after=exc.retry_after)
        if first is None:
            log.error("process_moves %s: the Moves profile has no firstDate", oh_id)
            _mark(member, MovesMember.Status.FAILING, "Moves did not say when your data starts.")
            return SyncResult()
        member.first_date = first
        start, days = first, []

    weeks = _weeks_from(start, today)
    done_before = len(_weeks_from(member.first_date or start, start)) - 1 if member.first_date else 0
    retry_after = None
    error = ""
    try:
        for year, week in weeks:
            for day in moves_client.storyline_week(moves_token, year, week):
                if _day_date(day) >= start and (not days or _day_date(day) > _day_date(days[-1])):
                    days.append(day)
            done_before += 1
    except (RateLimitedError, RateLimited) as exc:
        retry_after = exc.retry_after
    except (Unauthorized, InvalidGrant):
        _mark(member, MovesMember.Status.NEEDS_RECONNECT, "Moves refused our access. Please reconnect.")
        log.warning("process_moves %s: Moves refused the token", oh_id)
        retry_after = None
        error = "reconnect"
    except MalformedResponse as exc:
        log.error("process_moves %s: unexpected answer from Moves: %s", oh_id, exc)
        error = "Moves sent data we could not read; we kept your last good file."

    if days and len(days) >= len(held) and days != held:
        new_id, size = _upload(oh_client, oh_token, oh_id, days)
        for stale in files:
            if stale.id != new_id:
                oh_client.delete_file(oh_token, oh_id, stale.id)
        member.file_id, member.file_size = new_id, size
        member.days_held, member.last_day_held = len(days), _day_date(days[-1])

    member.weeks_total = len(_weeks_from(member.first_date, today)) if member.first_date else len(weeks)
    member.weeks_done = min(done_before, member.weeks_total)
    if error == "reconnect":
        return SyncResult()
    if error:
        _mark(member, MovesMember.Status.FAILING, error)
        return SyncResult()
    if retry_after is not None:
        member.status = MovesMember.Status.BACKFILLING
        member.next_batch_at = timezone.now() + timedelta(seconds=retry_after)
        member.save()
        return SyncResult(retry_after=retry_after)
    member.status = MovesMember.Status.CURRENT
    member.weeks_done = member.weeks_total
    member.next_batch_at = None
    member.last_error = ""
    member.last_updated = timezone.now()
    member.save()
    return SyncResult()


def member_lock(oh_id: str) -> redis.lock.Lock:
    """One run per member: a Redis lock that expires if its worker dies."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return client.lock(f"process_moves:lock:{oh_id}", timeout=settings.MEMBER_LOCK_SECONDS, blocking=False)
