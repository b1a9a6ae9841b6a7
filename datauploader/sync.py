"""The sync service behind ``process_moves``: fetch new ISO weeks, upload, then replace.

The history is kept in a local log of days (``datauploader.worklog``), so
memory stays flat however long it is and a re-enqueued run continues where
the last one stopped. Order matters for safety: the new file is uploaded and
completed before any previous one is deleted, by id, so Open Humans always
holds every day it held before.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

import redis
from django.conf import settings
from django.utils import timezone
from redis.exceptions import LockError

from apiclients.errors import (
    InvalidGrant,
    MalformedResponse,
    RateLimited,
    TemporaryUpstreamError,
    Unauthorized,
    UpstreamError,
)
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient, RemoteFile
from datauploader.ratelimit import RateLimitedError
from datauploader.worklog import DayLog, UnreadableHistory, monday_of, parse_day_date
from main.models import MovesMember, RecentDay
from main.preview import recent_positions, store_recent_days
from open_humans.models import OpenHumansMember

log = logging.getLogger(__name__)

RECONNECT_SUBJECT = "Please reconnect Moves"
RECONNECT_MOVES = "Moves no longer accepts our access to your account. Please reconnect Moves."
RECONNECT_OPEN_HUMANS = "Open Humans no longer accepts our access. Please sign in with Open Humans again."
# Shown on the dashboard after "The last update did not finish:", which goes
# on to say that the data on Open Humans is safe and that we try again.
UNREADABLE_FILE = (
    "your Moves file on Open Humans could not be read, so it was left as it is; "
    "disconnecting Moves and connecting it again rebuilds it."
)
UNREADABLE_MOVES = "Moves sent data we could not read."
NO_FIRST_DATE = "Moves did not say when your data starts."


@dataclass
class SyncResult:
    """What the task should do next: nothing, or run again after ``retry_after`` seconds."""

    retry_after: float | None = None


@dataclass
class FetchOutcome:
    """How the week loop ended: complete (all defaults), paused, refused, or broken."""

    retry_after: float | None = None
    problem: str = ""
    reconnect: bool = False
    temporary: TemporaryUpstreamError | None = None


class MemberGone(Exception):
    """The member disconnected Moves while the run was working."""


def sync_member(member: MovesMember) -> SyncResult:
    """Bring the member's file on Open Humans up to the current ISO week, as far as the limits allow."""
    oh_id = member.member.oh_id
    oh = OpenHumansClient()
    try:
        oh_token = member.member.get_access_token()
    except InvalidGrant:
        log.warning("process_moves %s: Open Humans refused the refresh token", oh_id)
        # Signing in with Open Humans again stores new tokens and clears the
        # flag; the Moves connection itself is fine and stays.
        OpenHumansMember.objects.filter(pk=member.member.pk).update(needs_reconnect=True)
        mark_failing(member, RECONNECT_OPEN_HUMANS, next_batch_at=None)
        return SyncResult()
    try:
        moves_token = member.get_access_token()
    except InvalidGrant:
        log.warning("process_moves %s: Moves refused the refresh token", oh_id)
        _needs_reconnect(member, RECONNECT_MOVES, oh, oh_token)
        return SyncResult()

    remote = oh.exchange_member(oh_token)
    ours = sorted((f for f in remote.files if f.basename == settings.MOVES_FILE_NAME), key=lambda f: f.id)
    history = DayLog.for_member(oh_id)
    try:
        _align(history, ours, member, oh)
    except UnreadableHistory as exc:
        log.error("process_moves %s: the file on Open Humans is unreadable (%s); it is kept", oh_id, exc)
        mark_failing(member, UNREADABLE_FILE)
        return SyncResult()

    today = timezone.now().date()
    outcome = _fetch_weeks(history, MovesClient(), moves_token, member, today)
    try:
        _publish(history, ours, oh, oh_token, member)
    except MemberGone:
        log.info("process_moves %s: Moves was disconnected during the run; stopped", oh_id)
        return SyncResult()
    if outcome.temporary is not None:
        raise outcome.temporary
    return _finish(member, history, outcome, oh, oh_token, remote.message_permission, today)


def _align(history: DayLog, ours: list[RemoteFile], member: MovesMember, oh: OpenHumansClient) -> None:
    """Make the local log continue the member's file on Open Humans (reuse, import, or start empty)."""
    source = history.state.source_file_id
    on_open_humans = source in {f.id for f in ours} if source is not None else not ours
    if on_open_humans and history.built_from(source, member.moves_id):
        return
    base = next((f for f in ours if f.id == member.file_id), ours[-1] if ours else None)
    if base is None:
        history.reset(member.moves_id)
        return
    download = history.directory / "download.json"
    try:
        oh.download(base.download_url, download)
        report = history.import_history(download, base.id, member.moves_id)
    finally:
        download.unlink(missing_ok=True)
    repairs = []
    if report.dropped:
        repairs.append(f"left out {report.dropped} entries that are not days")
    if report.reordered:
        repairs.append("put days back in date order, once each")
    if repairs:
        log.warning("process_moves %s: file %s read; %s", member.member.oh_id, base.id, " and ".join(repairs))


def _fetch_weeks(
    history: DayLog, moves: MovesClient, token: str, member: MovesMember, today: date
) -> FetchOutcome:
    """Append ISO weeks from the resume point up to the current week, committing after each."""
    oh_id = member.member.oh_id
    try:
        resume = history.resume_monday
        if resume is None and history.last_day is not None:
            resume = monday_of(history.last_day)
        if resume is None:
            first = moves.profile(token).first_date
            if first is None:
                log.error("process_moves %s: the Moves profile has no firstDate", oh_id)
                return FetchOutcome(problem=NO_FIRST_DATE)
            _save(member, first_date=first)
            resume = monday_of(first)
        if member.first_date is None:
            _save(member, first_date=history.first_day or resume)
        # Days already held from the week fetched again; a day the new answer
        # leaves out is kept rather than lost.
        carried = {parse_day_date(day["date"]): day for day in history.days_since(resume)}
        monday = resume
        while True:
            iso = monday.isocalendar()
            answered = moves.storyline_week(token, iso.year, iso.week)
            last = min(monday + timedelta(days=6), today)
            week = {**carried, **{parse_day_date(d["date"]): d for d in answered}}
            if carried:
                history.cut_from(resume)
                carried = {}
            history.append(week[when] for when in sorted(week) if monday <= when <= last)
            # A week that ended before today is final; the current one is
            # fetched again next time, as the phone may still add to it.
            if last < today:
                monday += timedelta(days=7)
                history.commit(resume_monday=monday)
            else:
                history.commit(resume_monday=monday)
                return FetchOutcome()
    except (RateLimitedError, RateLimited) as exc:
        return FetchOutcome(retry_after=exc.retry_after)
    except (Unauthorized, InvalidGrant):
        log.warning("process_moves %s: Moves refused the access token", oh_id)
        return FetchOutcome(problem=RECONNECT_MOVES, reconnect=True)
    except MalformedResponse as exc:
        log.error("process_moves %s: unexpected answer from Moves: %s", oh_id, exc)
        return FetchOutcome(problem=UNREADABLE_MOVES)
    except TemporaryUpstreamError as exc:
        # Publish what arrived before the failure; the task then retries.
        return FetchOutcome(temporary=exc)


def _publish(
    history: DayLog, ours: list[RemoteFile], oh: OpenHumansClient, oh_token: str, member: MovesMember
) -> None:
    """Upload the log when it differs from the file on Open Humans, then delete every other copy."""
    if not len(history):
        return
    oh_id = member.member.oh_id
    ids = {f.id for f in ours}
    keep = history.state.source_file_id
    written = history.write_json(history.directory / settings.MOVES_FILE_NAME)
    try:
        if written.sha256 != history.state.uploaded_sha256 or keep not in ids:
            metadata = {
                "description": settings.MOVES_FILE_DESCRIPTION,
                "tags": settings.MOVES_FILE_TAGS,
                "start_date": written.first_day.isoformat(),
                "end_date": written.last_day.isoformat(),
            }
            uploaded = oh.upload(oh_token, oh_id, written.path, settings.MOVES_FILE_NAME, metadata)
            history.mark_uploaded(uploaded.id, written.sha256)
            keep = uploaded.id
            stored = _save(
                member,
                file_id=uploaded.id,
                file_size=uploaded.size,
                file_sha256=written.sha256,
                days_held=written.days,
                last_day_held=written.last_day,
            )
            if not stored:
                # Disconnecting deleted the files it saw; this one came after.
                oh.delete_file(oh_token, oh_id, uploaded.id)
                raise MemberGone()
            _store_preview(history, member)
        elif not RecentDay.objects.filter(moves_member=member).exists():
            _store_preview(history, member)
    finally:
        written.path.unlink(missing_ok=True)
    for stale in ours:
        if stale.id != keep:
            oh.delete_file(oh_token, oh_id, stale.id)


def _store_preview(history: DayLog, member: MovesMember) -> None:
    positions = recent_positions(len(history), history.day_at)
    days = list(islice(history.days_from(positions.start), len(positions)))
    store_recent_days(member, [(parse_day_date(day["date"]), day) for day in days])


def _finish(
    member: MovesMember,
    history: DayLog,
    outcome: FetchOutcome,
    oh: OpenHumansClient,
    oh_token: str,
    message_permission: bool,
    today: date,
) -> SyncResult:
    progress = _progress(member, history, today)
    if outcome.reconnect:
        _save(member, **progress)
        _needs_reconnect(member, outcome.problem, oh, oh_token, message_permission)
        return SyncResult()
    if outcome.problem:
        mark_failing(member, outcome.problem, **progress)
        return SyncResult()
    if outcome.retry_after is not None:
        # A member who was up to date stays so while a daily update waits.
        waiting = member.status == MovesMember.Status.CURRENT and member.last_updated is not None
        _save(
            member,
            status=MovesMember.Status.CURRENT if waiting else MovesMember.Status.BACKFILLING,
            next_batch_at=timezone.now() + timedelta(seconds=outcome.retry_after),
            **progress,
        )
        return SyncResult(retry_after=outcome.retry_after)
    _save(
        member,
        status=MovesMember.Status.CURRENT,
        last_updated=timezone.now(),
        next_batch_at=None,
        last_error="",
        **{**progress, "weeks_done": progress["weeks_total"]},
    )
    return SyncResult()


def _progress(member: MovesMember, history: DayLog, today: date) -> dict:
    first = member.first_date or history.first_day
    resume = history.resume_monday
    if first is None or resume is None:
        return {}
    total = (monday_of(today) - monday_of(first)).days // 7 + 1
    # The week to resume at counts once it holds days: it is the current
    # week, fetched again on every update.
    held_from_resume = history.last_day is not None and history.last_day >= resume
    done = (resume - monday_of(first)).days // 7 + held_from_resume
    return {"weeks_total": total, "weeks_done": max(0, min(done, total))}


def mark_failing(member: MovesMember, message: str, **fields) -> None:
    """Record that the run failed, in words for the member, with any other ``fields``."""
    _save(member, status=MovesMember.Status.FAILING, **fields, **_error_fields(message))


def _error_fields(message: str) -> dict:
    return {"last_error": message, "last_error_at": timezone.now()}


def _save(member: MovesMember, **fields) -> bool:
    """Write ``fields`` to the member's row; False when the row is gone.

    An UPDATE, not ``save()``: saving a row that a disconnect deleted
    meanwhile would insert it again, tokens and all.
    """
    for name, value in fields.items():
        setattr(member, name, value)
    fields["updated"] = timezone.now()
    return MovesMember.objects.filter(pk=member.pk).update(**fields) == 1


def _needs_reconnect(
    member: MovesMember,
    reason: str,
    oh: OpenHumansClient,
    oh_token: str,
    message_permission: bool | None = None,
) -> None:
    """Stop syncing the member until they reconnect, and tell them once through Open Humans."""
    oh_id = member.member.oh_id
    _save(member, status=MovesMember.Status.NEEDS_RECONNECT, next_batch_at=None, **_error_fields(reason))
    if member.reconnect_notified:
        return
    try:
        if message_permission is None:
            message_permission = oh.exchange_member(oh_token).message_permission
        if not message_permission:
            log.info("process_moves %s: member does not accept messages; not told by message", oh_id)
            return
        oh.send_message(oh_token, RECONNECT_SUBJECT, _reconnect_message(reason))
    except UpstreamError as exc:
        log.warning("process_moves %s: could not send the reconnect message: %s", oh_id, exc)
        return
    _save(member, reconnect_notified=True)
    log.info("process_moves %s: told the member by message to reconnect", oh_id)


def _reconnect_message(reason: str) -> str:
    return (
        f"{reason}\n\n"
        "Until then your Moves data on Open Humans is not updated; everything already there is kept.\n\n"
        f"Reconnect here: {settings.APP_BASE_URL}/dashboard/\n"
    )


def member_lock(oh_id: str) -> redis.lock.Lock:
    """One run per member: a Redis lock that expires if its worker dies."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return client.lock(f"process_moves:lock:{oh_id}", timeout=settings.MEMBER_LOCK_SECONDS, blocking=False)


def release_member_lock(lock: redis.lock.Lock, oh_id: str) -> None:
    """Release the member's lock; an expired lock is only worth a warning."""
    try:
        lock.release()
    except LockError:
        # The run outlived the lock's expiry, so another run may have started;
        # the time limits are set below the expiry to make this rare.
        log.warning("process_moves %s: the member lock had expired before release", oh_id)
