"""One run of ``process_moves``: fetch what the member's batch allows, merge it, and publish the file.

A run, from top to bottom:

1. Take the member's lease (one run per member, kept alive by a heartbeat
   while the run lives) and usable tokens for both services.
2. Clean up what an earlier run left on Open Humans (an upload that was
   never recorded, an old file whose delete failed).
3. Make the local history continue the member's file on Open Humans:
   reuse it, or download and import the file (``align``).
4. Fetch, in order and while the batch lasts: the profile when it is not
   known or the member's zone changed; weeks Moves notified us about; the
   weeks an update re-checks (previous, current, and every week since the
   last success); then history from ``backfill_next`` on. Each week is
   merged into the local history as it arrives (``LocalHistory.merge_week``).
5. Publish when it is time (``should_publish``): write the file, upload it,
   record it, then delete the previous file by id, so Open Humans always
   holds every day it held before. Refresh the calendar and recent maps.
6. Record the outcome on the member (``core.models`` transitions): current,
   still backfilling, waiting for quota, retrying, failing, or must reconnect.

Nothing here retries or sleeps: a failure ends the run and ``core.retry``
decides when the member is tried again.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from apiclients.dates import monday_of, parse_day, utc_text
from apiclients.errors import (
    MOVES,
    OPEN_HUMANS,
    InvalidGrant,
    RateLimited,
    Unauthorized,
    UpstreamError,
)
from apiclients.moves import MovesClient, QuotaSpent
from apiclients.openhumans import OpenHumansClient
from apiclients.quota import Batch, MovesQuota
from core import days as day_summaries
from core.accounts import current_file
from core.calendar import ONE_WEEK, member_today, weeks_between, weeks_to_update
from core.models import MovesMember, PendingWeek
from core.source import own_source
from datauploader.history import CorruptHistory, LocalHistory, UnreadableFile

log = logging.getLogger(__name__)

RECONNECT_SUBJECT = "Please reconnect Moves"
INFRASTRUCTURE = "our servers"


# A sweep asks for up to this many days at a time (the API's limit without track points).
SWEEP_DAYS = 31


@dataclass
class Step:
    kind: str  # "notified", "update", "backfill" or "sweep"
    monday: date
    # The last day a sweep step covers (a sweep asks for days, not a week).
    last: date | None = None


@dataclass
class RunReport:
    """What one run did, for the task's log line and the tests."""

    requests: int = 0
    weeks: int = 0
    days_changed: int = 0
    uploaded: bool = False
    outcome: str = ""
    given_back: int = 0
    batches: int = 0
    oh_calls: int = 0
    notes: list[str] = field(default_factory=list)


class LeaseKeeper:
    """Extends the member's lease while the run is alive; a killed run's lease simply runs out."""

    def __init__(self, member: MovesMember, lease: str, seconds: float) -> None:
        self.member, self.lease, self.seconds = member, lease, seconds
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name=f"lease-{member.pk}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.seconds / 3):
                try:
                    if not self.member.extend_lease(self.lease, self.seconds):
                        self.lost = True
                        return
                except DatabaseError:
                    # Kept trying: the lease outlives a short outage.
                    log.warning("run of %s: could not extend its lease", self.member.member.oh_id)
        finally:
            connection.close()


class StopRun(Exception):
    """The run cannot go on (the member disconnected, or its lease passed to another run)."""


class Sync:
    """One run for one member, holding the lease ``lease`` and the Moves batch ``batch``."""

    def __init__(
        self,
        member: MovesMember,
        lease: str,
        batch: Batch | None,
        quota: MovesQuota,
        *,
        moves: MovesClient | None = None,
        oh: OpenHumansClient | None = None,
        claim_batch: Callable[[], Batch | None] | None = None,
        next_batch: Callable[[], Batch | None] | None = None,
    ) -> None:
        self.member = member
        self.oh_id = member.member.oh_id
        self.lease = lease
        self.batch = batch
        # Claims the run's batch from its ticket, just before the first Moves request.
        self.claim_batch = claim_batch
        # Waits for the member's batch in the next window; None ends the run with its batch.
        self.next_batch = next_batch
        self.quota = quota
        self.moves = moves or MovesClient(quota=quota)
        self.oh = oh or OpenHumansClient()
        self.started = timezone.now()
        self.clock_started = time.monotonic()
        self.status_at_start = member.status
        self.backfill_at_start = member.backfill_next
        self.report = RunReport(batches=1 if batch is not None or claim_batch is not None else 0)
        self.history: LocalHistory | None = None
        # Whether this run set out to fetch the weeks an update re-checks, and how many are left.
        self.recent_planned = False
        self.recent_left = 0
        # Steps of this run's plan not taken yet: the queue's estimate of what the member still wants.
        self.steps_left = 0
        self.oh_token = ""
        self.source = ""

    # --- The run ---------------------------------------------------------------------

    def run(self) -> RunReport:
        try:
            self._run()
        except StopRun as exc:
            self.report.outcome = f"stopped: {exc}"
        return self.report

    def flush(self) -> RunReport:
        """Upload what this machine fetched and has not uploaded yet; nothing is fetched.

        For a worker that is stopping: its disk may not come back (Heroku
        empties it on every restart), and waiting for the upload interval
        would lose what was fetched since the last upload.
        """
        member = self.member
        history = LocalHistory.for_member(self.oh_id)
        continues = history.built_from(member.file_id, member.moves_id) or (
            member.file_id is None and history.state.moves_id == member.moves_id
        )
        if not history.state.dirty or not continues:
            self.report.outcome = "nothing to flush"
            return self.report
        try:
            self.oh_token = member.member.usable_access_token()
            self.publish(history)
        except StopRun as exc:
            self.report.outcome = f"stopped: {exc}"
            return self.report
        self.report.outcome = "flushed"
        return self.report

    def _run(self) -> None:
        member = self.member
        try:
            self.oh_token = member.member.usable_access_token()
        except InvalidGrant:
            log.warning("process_moves %s: Open Humans refused the refresh token", self.oh_id)
            member.require_reconnect(
                OPEN_HUMANS, "Open Humans no longer accepts our access. Please sign in again.", self.lease
            )
            self.report.outcome = "open humans refused the token"
            return
        try:
            moves_token = member.usable_access_token()
        except InvalidGrant:
            self._moves_refused()
            return
        self.source = own_source(self.oh_token, self.oh)
        self._clean_up_open_humans()
        history = self._open_history()
        try:
            fetched_all = self._fetch(history, moves_token)
            while not fetched_all and self._continue(history):
                fetched_all = self._fetch(history, moves_token)
        except RateLimited as exc:
            # The server disagreed with our count; it is right. Wait for its reset.
            log.warning("process_moves %s: Moves answered 429; waiting for its window to reset", self.oh_id)
            self._publish_if_due(history, stopping=True)
            self._finish(history, fetched_all=False, quota_until=exc.resets_at)
            return
        except (Unauthorized, InvalidGrant) as exc:
            if exc.service == MOVES:
                self._publish_if_due(history, stopping=True)
                self._moves_refused()
                return
            raise
        except UpstreamError as exc:
            # Publish what arrived before the failure, then fail as usual.
            if exc.service == MOVES:
                self._publish_if_due(history, stopping=True)
            raise
        self._publish_if_due(history, stopping=False, fetched_all=fetched_all)
        self._finish(history, fetched_all=fetched_all)

    # --- Step 2: leftovers on Open Humans ------------------------------------------

    def _clean_up_open_humans(self) -> None:
        """Delete what an earlier run left on Open Humans: an upload never recorded, a file replaced."""
        member = self.member
        pending = member.pending_file_id
        if pending is not None:
            if pending != member.file_id:
                self.oh.delete_file(self.oh_token, self.oh_id, pending)
                self.report.oh_calls += 1
                log.info(
                    "process_moves %s: deleted file %s left by an interrupted upload", self.oh_id, pending
                )
            self._check(member.record_file(self.lease, member.file_id, member.file_sha256))
        self._delete_replaced()

    def _delete_replaced(self) -> None:
        """Delete the file the last upload replaced; remembered until Open Humans confirms it."""
        member = self.member
        replaced = member.obsolete_file_id
        if replaced is None or replaced == member.file_id:
            if replaced is not None:
                self._check(member.forget_obsolete_file(self.lease))
            return
        # An id already gone answers {"ids": []}: deleted either way.
        self.oh.delete_file(self.oh_token, self.oh_id, replaced)
        self.report.oh_calls += 1
        self._check(member.forget_obsolete_file(self.lease))

    # --- Step 3: the local history ---------------------------------------------------

    def _open_history(self) -> LocalHistory:
        try:
            history = LocalHistory.for_member(self.oh_id)
            history.check()
        except CorruptHistory as exc:
            log.warning("process_moves %s: local history damaged (%s); rebuilding it", self.oh_id, exc)
            from datauploader.history import discard_history

            discard_history(self.oh_id)
            history = LocalHistory.for_member(self.oh_id)
        self.history = history
        self._align(history)
        return history

    def _align(self, history: LocalHistory) -> None:
        member = self.member
        if member.file_id is not None and history.built_from(member.file_id, member.moves_id):
            return
        if member.file_id is None and member.backfill_next is not None:
            # Nothing uploaded yet, but this member's runs fetched before: go on
            # from what is here (or from nothing, after a lost disk).
            if history.state.moves_id != member.moves_id or history.state.source_file_id is not None:
                history.reset(member.moves_id)
                self._backfill_from_first_gap(history)
            return
        # Either the file on Open Humans is newer than our copy, or this is the
        # member's first run and a file of an earlier connection may exist.
        remote = self.oh.exchange_member(self.oh_token, self.source)
        self.report.oh_calls += 1
        found = current_file(remote, member.file_id)
        if found is None:
            if member.file_id is not None:
                log.warning(
                    "process_moves %s: file %s is gone from Open Humans; fetching again",
                    self.oh_id,
                    member.file_id,
                )
                self._check(member.record_file(self.lease, None))
                self._check(
                    member.record_progress(
                        self.lease,
                        backfill_next=None,
                        weeks_done=0,
                        weeks_total=member.weeks_total,
                        requests_wanted=member.weeks_total + 1,
                        backfill_done=False,
                    )
                )
            history.reset(member.moves_id)
            return
        download = history.directory / "download.json"
        try:
            got = self.oh.download(found.download_url, download, settings.OH_MAX_FILE_BYTES)
            self.report.oh_calls += 1
            try:
                imported = history.import_file(download, found.id, got.sha256, member.moves_id)
            except UnreadableFile as exc:
                log.error(
                    "process_moves %s: file %s on Open Humans is unreadable (%s); it is kept",
                    self.oh_id,
                    found.id,
                    exc,
                )
                raise PoisonFile(
                    "your Moves file on Open Humans could not be read, so it was left as it is; "
                    "disconnecting Moves and connecting it again rebuilds it."
                ) from None
        finally:
            download.unlink(missing_ok=True)
        if imported.dropped or imported.reordered:
            log.warning(
                "process_moves %s: file %s read; left out %d entries that are not days%s",
                self.oh_id,
                found.id,
                imported.dropped,
                ", put days back in date order" if imported.reordered else "",
            )
            history.mark_dirty()
        # The bytes just read are what Open Humans holds, whatever we uploaded
        # there once (a file can be changed behind our back).
        self._check(member.record_file(self.lease, found.id, got.sha256))
        self._backfill_from_first_gap(history)

    def _backfill_from_first_gap(self, history: LocalHistory) -> None:
        """Fetch again the weeks before ``backfill_next`` that this history does not hold.

        Another machine (now dead) or a lost disk may have fetched weeks that
        never reached Open Humans: the backfill goes back to the first of them.
        """
        member = self.member
        if member.backfill_next is None or member.first_date is None:
            return
        gap = next(
            (
                monday
                for monday in weeks_between(member.first_date, member.backfill_next - ONE_WEEK)
                if not history.has_week(monday)
            ),
            None,
        )
        if gap is None:
            return
        log.info(
            "process_moves %s: weeks from %s on are not in the file; fetching them again", self.oh_id, gap
        )
        self._record_progress(gap)

    # --- Step 4: fetching --------------------------------------------------------------

    def _fetch(self, history: LocalHistory, token: str) -> bool:
        """Fetch while the batch lasts; True when everything wanted was fetched."""
        if self.batch is None and self.claim_batch is not None:
            self.batch = self.claim_batch()
            self.claim_batch = None
        if self.batch is None:
            return False
        try:
            fetched_all = self._fetch_steps(history, token)
            if fetched_all and self._backfill_just_completed():
                # In this run, while it holds a batch: a run of its own would
                # read tokens, files and the local history again for two weeks.
                self._check(self.member.recheck_recent_weeks(self.lease, self.started))
                fetched_all = self._fetch_steps(history, token)
            return fetched_all
        except QuotaSpent:
            return False

    def _backfill_just_completed(self) -> bool:
        """This run's backfill reached today, and the weeks an update re-checks were not fetched by it."""
        member = self.member
        if member.first_date is None or member.backfill_next is None or self.backfill_at_start is None:
            return False
        if self.recent_planned and self.recent_left == 0:
            return False
        reached = monday_of(member_today(member.time_zone)) - ONE_WEEK
        return self.backfill_at_start < reached <= member.backfill_next

    def _continue(self, history: LocalHistory) -> bool:
        """Go on with the member's batch in the next window, if the dispatcher hands it to this run.

        Only while the run is young enough to finish well inside the task's
        time limit. What the spent batch did not use goes back first, and the
        file is published if it is due, as it would be at the end of a run.
        """
        if self.next_batch is None or self.batch is None:
            return False
        if time.monotonic() - self.clock_started > settings.CELERY_TASK_SOFT_TIME_LIMIT / 2:
            return False
        self.report.given_back += self.quota.give_back(self.batch)
        self._publish_if_due(history, stopping=False)
        batch = self.next_batch()
        if batch is None:
            return False
        self.batch = batch
        self.report.batches += 1
        return True

    def _fetch_steps(self, history: LocalHistory, token: str) -> bool:
        member = self.member
        assert self.batch is not None
        if member.first_date is None or history.state.zone_changed:
            self._profile(token)
        if member.first_date is None:
            # An account that has recorded nothing yet: nothing to fetch.
            return True
        zone = _zone(member.time_zone)
        plan = self._plan(history)
        for number, step in enumerate(plan):
            self.steps_left = len(plan) - number - 1
            if step.kind == "sweep":
                self._sweep(token, step)
                continue
            with self.moves.storyline_week(token, step.monday, self.batch) as answer:
                self.report.requests += 1
                if answer.out_of_range:
                    # Not begun in the member's calendar (or before their first
                    # week): nothing there yet, not an error.
                    log.info("process_moves %s: week %s is out of range for Moves", self.oh_id, step.monday)
                    history.fetched_nothing(step.monday)
                else:
                    merge = history.merge_week(step.monday, answer.days(), zone)
                    self.report.days_changed += len(merge.changed)
            self.report.weeks += 1
            self._after_week(step)
            if history.state.zone_changed:
                # The member travelled: their calendar (and "today") moved with them.
                self._profile(token)
        return True

    def _profile(self, token: str) -> None:
        assert self.batch is not None
        profile = self.moves.profile(token, self.batch)
        self.report.requests += 1
        if self.member.moves_id is not None and profile.user_id != self.member.moves_id:
            raise PoisonFile("Moves answered for another account than the one connected.")
        self._check(self.member.saw_profile(self.lease, profile.first_date, profile.time_zone))
        if self.history is not None:
            self.history.profile_read()
        if profile.first_date is None:
            log.info("process_moves %s: the Moves account has no data yet", self.oh_id)

    def _plan(self, history: LocalHistory) -> list[Step]:
        """The weeks to fetch, most wanted first, each once."""
        member = self.member
        assert member.first_date is not None
        today = member_today(member.time_zone)
        first_monday, this_monday = monday_of(member.first_date), monday_of(today)
        steps: list[Step] = []
        seen: set[date] = set()

        def add(kind: str, monday: date) -> None:
            if first_monday <= monday <= this_monday and monday not in seen:
                seen.add(monday)
                steps.append(Step(kind, monday))

        for monday in PendingWeek.objects.filter(moves_member=member).values_list("monday", flat=True):
            add("notified", monday)
        if member.update_requested_at is not None or member.backfill_next is None:
            last_success = (
                member_today(member.time_zone, member.last_updated) if member.last_updated else None
            )
            asked = member.update_requested_at.timestamp() if member.update_requested_at else float("inf")
            # An update cut short earlier goes on with what it has not fetched since it was asked for.
            recent = [
                monday
                for monday in weeks_to_update(today, last_success, member.first_date)
                if history.fetched_at(monday) < asked
            ]
            self.recent_planned = True
            self.recent_left = len([monday for monday in recent if monday not in seen])
            # Newest first: a batch cut short still brings the latest days.
            for monday in reversed(recent):
                add("update", monday)
        backfill_from = member.backfill_next or first_monday
        backfill_to = this_monday - 2 * ONE_WEEK
        for monday in weeks_between(backfill_from, backfill_to) if backfill_from <= backfill_to else []:
            add("backfill", monday)
        if member.sweep_from is not None:
            first = max(member.sweep_from, member.first_date)
            while first <= today:
                last = min(first + timedelta(days=SWEEP_DAYS - 1), today)
                steps.append(Step("sweep", first, last))
                first = last + timedelta(days=1)
        return steps

    def _sweep(self, token: str, step: Step) -> None:
        """Ask which days of a month changed since the sweep began looking, and queue their weeks."""
        member = self.member
        assert self.batch is not None and step.last is not None
        since = utc_text(member.sweep_since or member.created)
        with self.moves.storyline_changes(token, step.monday, step.last, since, self.batch) as answer:
            self.report.requests += 1
            changed = (
                set() if answer.out_of_range else {monday_of(parse_day(day["date"])) for day in answer.days()}
            )
        if changed:
            PendingWeek.objects.bulk_create(
                [PendingWeek(moves_member=member, monday=monday) for monday in sorted(changed)],
                ignore_conflicts=True,
            )
            log.info("process_moves %s: the sweep found %d changed weeks", self.oh_id, len(changed))
        today = member_today(member.time_zone)
        next_from = step.last + timedelta(days=1)
        self._check(
            member.sweep_progress(self.lease, next_from if next_from <= today else None, self.started)
        )

    def _after_week(self, step: Step) -> None:
        member = self.member
        if step.kind == "notified":
            PendingWeek.objects.filter(moves_member=member, monday=step.monday).delete()
        elif step.kind == "update":
            self.recent_left -= 1
        backfill_next = member.backfill_next or monday_of(member.first_date or step.monday)
        if step.kind == "backfill" and step.monday >= backfill_next:
            backfill_next = step.monday + ONE_WEEK
        self._record_progress(backfill_next)

    def _record_progress(self, backfill_next: date) -> None:
        member = self.member
        assert member.first_date is not None and self.history is not None
        today = member_today(member.time_zone)
        all_weeks = weeks_between(member.first_date, today)
        backfill_done = backfill_next >= monday_of(today) - ONE_WEEK
        done = (
            len(all_weeks)
            if backfill_done
            else sum(1 for monday in all_weeks if monday < backfill_next or self.history.has_week(monday))
        )
        later = self._plan_after(backfill_next, today)
        # The end of a backfill fetches again the weeks an update re-checks
        # (``_backfill_just_completed``): the batch that ends it has room for them.
        recheck = len(weeks_to_update(today, None, member.first_date)) if later else 0
        remaining = max(self.steps_left, len(later) + recheck)
        self._check(
            member.record_progress(
                self.lease,
                backfill_next=backfill_next,
                weeks_done=min(done, len(all_weeks)),
                weeks_total=len(all_weeks),
                requests_wanted=remaining,
                backfill_done=backfill_done,
            )
        )

    def _plan_after(self, backfill_next: date, today: date) -> list[date]:
        """Weeks of backfill still to fetch from ``backfill_next`` on (an estimate for the queue)."""
        end = monday_of(today) - 2 * ONE_WEEK
        return weeks_between(backfill_next, end) if backfill_next <= end else []

    # --- Step 5: publishing ----------------------------------------------------------------

    def _publish_if_due(self, history: LocalHistory, *, stopping: bool, fetched_all: bool = False) -> None:
        if should_publish(self.member, history, stopping=stopping, fetched_all=fetched_all, quota=self.quota):
            self.publish(history)

    def publish(self, history: LocalHistory) -> None:
        """Upload the history when it differs from the file on Open Humans, then delete the old file."""
        member = self.member
        if history.is_empty():
            return
        written = history.write_json(history.directory / settings.MOVES_FILE_NAME)
        try:
            if member.file_id is not None and written.sha256 == member.file_sha256:
                # Another worker uploaded exactly this already.
                history.uploaded(member.file_id, written.sha256)
                self._store_summaries(history, written.facts)
                return
            metadata = {
                "description": settings.MOVES_FILE_DESCRIPTION,
                "tags": settings.MOVES_FILE_TAGS,
            }
            if written.first_day and written.last_day:
                metadata["start_date"] = written.first_day.isoformat()
                metadata["end_date"] = written.last_day.isoformat()
            uploaded = self.oh.upload(
                self.oh_token,
                self.oh_id,
                written.path,
                settings.MOVES_FILE_NAME,
                metadata,
                on_created=lambda file_id: self._check(member.record_pending_upload(self.lease, file_id)),
            )
            self.report.oh_calls += 3
            recorded = member.record_upload(
                self.lease,
                file_id=uploaded.id,
                size=uploaded.size,
                sha256=written.sha256,
                days=written.days,
                first_day=written.first_day,
                last_day=written.last_day,
            )
            if not recorded:
                # Disconnecting deleted the files it saw; this one came after.
                self.oh.delete_file(self.oh_token, self.oh_id, uploaded.id)
                raise StopRun("the member disconnected during the upload")
            history.uploaded(uploaded.id, written.sha256)
            self.report.uploaded = True
            self._delete_replaced()
            self._store_summaries(history, written.facts)
        finally:
            written.path.unlink(missing_ok=True)

    def _store_summaries(self, history: LocalHistory, facts: list[day_summaries.DayFacts]) -> None:
        day_summaries.store_calendar(self.member, facts)
        day_summaries.store_recent_days(self.member, history.last_days(day_summaries.PREVIEW_DAYS))

    # --- Step 6: the outcome -----------------------------------------------------------------

    def _finish(self, history: LocalHistory, *, fetched_all: bool, quota_until: float | None = None) -> None:
        member = self.member
        member.refresh_from_db()
        complete = member.first_date is None or (
            member.backfill_next is not None
            and member.backfill_next >= monday_of(member_today(member.time_zone)) - ONE_WEEK
        )
        recent_fetched = member.first_date is None or (self.recent_planned and self.recent_left == 0)
        completed_now = complete and self.status_at_start != MovesMember.Status.CURRENT
        more = 0
        if not fetched_all:
            until = quota_until if quota_until is not None else self.quota.next_opening()
            self._check(member.waiting_for_quota(self.lease, datetime.fromtimestamp(until, tz=UTC)))
            more = max(member.requests_wanted, self.recent_left, 1)
        self._check(
            member.finish_sync(
                self.lease,
                self.started,
                recent_fetched=recent_fetched,
                complete=complete,
                completed_now=completed_now,
                more_wanted=more,
            )
        )
        if not fetched_all:
            self.report.outcome = "waiting for quota"
        else:
            # A targeted update (notified weeks only) leaves a current member current.
            current = member.status == MovesMember.Status.CURRENT
            self.report.outcome = "current" if current else "backfilling"

    def _moves_refused(self) -> None:
        log.warning("process_moves %s: Moves refused our token", self.oh_id)
        member = self.member
        member.require_reconnect(
            MOVES, "Moves no longer accepts our access to your account. Please reconnect Moves.", self.lease
        )
        self.report.outcome = "moves refused the token"
        if member.reconnect_notified:
            return
        try:
            self.oh.send_message(
                self.oh_token,
                RECONNECT_SUBJECT,
                "Moves no longer accepts our access to your account, so your Moves data on Open Humans "
                "is not updated any more; everything already there is kept.\n\n"
                f"Reconnect Moves here: {settings.APP_BASE_URL}/dashboard/\n",
            )
        except UpstreamError as exc:
            log.warning("process_moves %s: could not send the reconnect message: %s", self.oh_id, exc)
            return
        member.told_to_reconnect()
        log.info("process_moves %s: told the member by message to reconnect", self.oh_id)

    def _check(self, written: bool) -> None:
        if not written:
            raise StopRun("the member disconnected or another run took over")


class PoisonFile(Exception):
    """Input that will fail the same way every time: the member fails at once, with these words."""


def should_publish(
    member: MovesMember, history: LocalHistory, *, stopping: bool, fetched_all: bool, quota: MovesQuota
) -> bool:
    """Upload now, or let the next run do it?

    Always: a new member's first file, the end of the work, a run stopped by
    an error or a long wait for quota. Otherwise at most every
    ``UPLOAD_INTERVAL_SECONDS`` while a backfill goes on, because each upload
    sends the whole file again.
    """
    if not history.state.dirty and member.file_id is not None:
        return False
    if history.is_empty():
        return False
    if member.file_id is None or stopping or fetched_all:
        return True
    interval = settings.UPLOAD_INTERVAL_SECONDS / settings.RATE_LIMIT_TIME_SCALE
    if member.uploaded_at is None or (timezone.now() - member.uploaded_at).total_seconds() >= interval:
        return True
    # The next batch is far off (the hour's quota is spent): do not sit on the data.
    return quota.next_opening() - time.time() >= interval


def _zone(time_zone: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(time_zone) if time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Failures of our own servers (database, Redis, disk) that a later run may not meet."""
    return (DatabaseError, RedisError, OSError)
