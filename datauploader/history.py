"""A member's history on the worker's disk: one small file per ISO week, each replaced whole.

Holding a five-year history in memory takes hundreds of megabytes, so the
worker keeps it on disk, where a run continues what the last one fetched
instead of downloading the file from Open Humans again. The history is a
folder of week files (``weeks/2016-06-13.days``), one line per day:

    20160617<TAB>20160618T133300Z<TAB>992<TAB>2<TAB>{"date":"20160617",...}

that is the date, the day's ``lastUpdate`` (``-`` when it has none), its
steps, whether it holds data (2) or not (1), and the day exactly as Moves
sent it. The prefix lets the history be merged, summarised and written out
without parsing any JSON but the week at hand.

Every change is crash-safe: a week is merged in memory (seven days at most)
and written to a temporary file that is renamed over the old one, and the
state file is replaced the same way, so a run killed at any instruction
leaves either the old or the new week, never a cut line. A history that
does not read back (damaged disk, a foreign hand) raises
``CorruptHistory``; the caller then rebuilds it from Open Humans.
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings

from apiclients.dates import monday_of, parse_day, parse_time
from apiclients.jsonstream import NotAList, list_items
from core.days import HAS_DATA, NO_DATA, DayFacts, has_data, steps_of

log = logging.getLogger(__name__)

STATE_NAME = "state.json"
WEEKS = "weeks"
SUFFIX = ".days"
NO_UPDATE = "-"


class CorruptHistory(Exception):
    """The local history does not read back; it must be rebuilt."""


class UnreadableFile(Exception):
    """A history file from Open Humans is not a JSON list of days."""


@dataclass
class HistoryState:
    moves_id: int | None = None
    # The Open Humans file this history continues (built from or uploaded as).
    source_file_id: int | None = None
    # SHA-256 of that file's bytes, to skip uploading what is already there.
    source_sha256: str = ""
    # A week changed since the history was last uploaded or imported.
    dirty: bool = False
    # A day's times carried a different UTC offset than the member's known zone.
    zone_changed: bool = False
    # When each week (by its Monday's ISO date) was last fetched, epoch seconds:
    # an update cut short goes on with the weeks not fetched since it was asked for.
    fetched: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    day: date
    last_update: str
    steps: int
    state: int
    body: bytes

    def encode(self) -> bytes:
        prefix = f"{self.day:%Y%m%d}\t{self.last_update or NO_UPDATE}\t{self.steps}\t{self.state}\t"
        return prefix.encode() + self.body + b"\n"

    @classmethod
    def of(cls, day: dict[str, Any]) -> "Line":
        body = json.dumps(day, separators=(",", ":"), ensure_ascii=False).encode()
        last_update = day.get("lastUpdate")
        return cls(
            day=parse_day(day.get("date")),
            last_update=last_update if isinstance(last_update, str) else "",
            steps=steps_of(day),
            state=HAS_DATA if has_data(day) else NO_DATA,
            body=body,
        )

    @classmethod
    def decode(cls, raw: bytes) -> "Line":
        if not raw.endswith(b"\n"):
            raise CorruptHistory("a line is cut short")
        try:
            day, last_update, steps, state, body = raw[:-1].split(b"\t", 4)
            return cls(
                day=parse_day(day.decode()),
                last_update="" if last_update == NO_UPDATE.encode() else last_update.decode(),
                steps=int(steps),
                state=int(state),
                body=body,
            )
        except (ValueError, UnicodeDecodeError):
            raise CorruptHistory("a line does not read back") from None


def replaces(new: Line, old: Line) -> bool:
    """Whether a newly fetched copy of a day replaces the one held.

    ``lastUpdate`` is the only documented sign of change: a newer one wins,
    a day gaining one wins, a day losing it does not; without it on either
    side, a different answer wins (a day that was empty and now has data).
    """
    if new.last_update and old.last_update:
        return new.last_update > old.last_update
    if new.last_update or old.last_update:
        return bool(new.last_update)
    return new.body != old.body


@dataclass(frozen=True)
class Merge:
    """What merging one fetched week changed."""

    changed: list[date] = field(default_factory=list)
    added: int = 0
    kept: int = 0


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    sha256: str
    size: int
    days: int
    first_day: date | None
    last_day: date | None
    facts: list[DayFacts]


class LocalHistory:
    """The local history of one member; one run at a time (the member's lease)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.weeks_dir = directory / WEEKS
        self.state_path = directory / STATE_NAME
        directory.mkdir(parents=True, exist_ok=True)
        self.weeks_dir.mkdir(exist_ok=True)
        self._sweep_leftovers()
        self.state = self._load_state()

    @classmethod
    def for_member(cls, oh_id: str) -> "LocalHistory":
        return cls(Path(settings.DATA_WORK_DIR) / oh_id)

    # --- Reading ---------------------------------------------------------------

    def mondays(self) -> list[date]:
        mondays = []
        for path in self.weeks_dir.glob("*" + SUFFIX):
            try:
                mondays.append(date.fromisoformat(path.name.removesuffix(SUFFIX)))
            except ValueError:
                raise CorruptHistory(f"unexpected file {path.name}") from None
        return sorted(mondays)

    def has_week(self, monday: date) -> bool:
        return self._week_path(monday).exists()

    def week(self, monday: date) -> list[Line]:
        path = self._week_path(monday)
        try:
            with open(path, "rb") as source:
                lines = [Line.decode(raw) for raw in source]
        except FileNotFoundError:
            return []
        if any(monday_of(line.day) != monday for line in lines):
            raise CorruptHistory(f"week {monday} holds a day of another week")
        return lines

    def lines(self) -> Iterator[Line]:
        """Every day held, in date order."""
        for monday in self.mondays():
            yield from self.week(monday)

    def check(self) -> int:
        """Read every line's prefix back; returns the days held, or raises CorruptHistory."""
        return sum(1 for _ in self.lines())

    def is_empty(self) -> bool:
        return not any(self.weeks_dir.glob("*" + SUFFIX))

    def built_from(self, file_id: int | None, moves_id: int | None) -> bool:
        """Whether this history continues the given Open Humans file of the given Moves account."""
        return self.state.source_file_id == file_id and self.state.moves_id == moves_id

    def last_days(self, count: int) -> list[dict[str, Any]]:
        """The ``count`` most recent days with data, parsed, oldest first."""
        found: list[dict[str, Any]] = []
        for monday in reversed(self.mondays()):
            for line in reversed(self.week(monday)):
                if line.state == HAS_DATA:
                    found.append(json.loads(line.body))
                    if len(found) == count:
                        return list(reversed(found))
        return list(reversed(found))

    # --- Changing ----------------------------------------------------------------

    def merge_week(self, monday: date, days: Iterable[dict[str, Any]], zone: Any = None) -> Merge:
        """Merge the days Moves answered for the week starting on ``monday`` into the history.

        A day the answer leaves out is kept; a day it holds replaces ours only
        when it is newer (``replaces``); a day is never dropped because our
        clock thinks it has not happened yet. ``zone`` (a tzinfo) is the
        member's known time zone: a day whose times carry another offset sets
        ``state.zone_changed``.
        """
        held = {line.day: line for line in self.week(monday)}
        merged = dict(held)
        changed: list[date] = []
        added = 0
        for day in days:
            line = Line.of(day)
            if monday_of(line.day) != monday:
                # Moves answers a week with that week's days only; anything else
                # belongs to another week's file.
                log.warning(
                    "history %s: week %s answered day %s; kept in its own week",
                    self.directory.name,
                    monday,
                    line.day,
                )
                self.merge_week(monday_of(line.day), [day], zone)
                continue
            if zone is not None and not self.state.zone_changed and _offset_differs(day, zone):
                self.state.zone_changed = True
                self._save_state()
            old = merged.get(line.day)
            if old is None or replaces(line, old):
                merged[line.day] = line
                changed.append(line.day)
                added += old is None
        if changed:
            self._write_week(monday, [merged[day] for day in sorted(merged)])
            self.state.dirty = True
        self.state.fetched[monday.isoformat()] = time.time()
        self._save_state()
        return Merge(changed=changed, added=added, kept=len(held) - (len(changed) - added))

    def fetched_at(self, monday: date) -> float:
        """When the week starting on ``monday`` was last fetched (0: never, or not on this disk)."""
        return self.state.fetched.get(monday.isoformat(), 0.0)

    def fetched_nothing(self, monday: date) -> None:
        """Moves had nothing for the week (out of range): it counts as fetched now."""
        self.state.fetched[monday.isoformat()] = time.time()
        self._save_state()

    def reset(self, moves_id: int | None) -> None:
        """Start an empty history for ``moves_id``."""
        shutil.rmtree(self.weeks_dir, ignore_errors=True)
        self.weeks_dir.mkdir()
        self.state = HistoryState(moves_id=moves_id)
        self._save_state()

    def import_file(self, source: Path, file_id: int, sha256: str, moves_id: int | None) -> "ImportReport":
        """Replace the history with the days of a history file downloaded from Open Humans.

        Streams the file, so memory does not grow with its length. Entries
        that are not days (older uploaders appended API error bodies to the
        list) are dropped and counted; days out of order or repeated are put
        in order, the newer copy winning. Raises UnreadableFile, leaving the
        history as it was, when the file is not a JSON list.
        """
        staging = self.directory / (WEEKS + ".import")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        dropped = 0
        in_order = True
        last: date | None = None
        try:
            with open(source, "rb") as raw:
                for item in list_items(raw):
                    try:
                        line = Line.of(item) if isinstance(item, dict) else None
                    except (ValueError, TypeError):
                        line = None
                    if line is None:
                        dropped += 1
                        continue
                    if last is not None and line.day <= last:
                        in_order = False
                    last = line.day
                    with open(staging / (monday_of(line.day).isoformat() + ".part"), "ab") as out:
                        out.write(line.encode())
            for part in staging.glob("*.part"):
                lines = _newest_per_day(
                    Line.decode(raw) for raw in part.read_bytes().splitlines(keepends=True)
                )
                _write_atomically(
                    staging / part.name.replace(".part", SUFFIX), b"".join(line.encode() for line in lines)
                )
                part.unlink()
        except NotAList as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UnreadableFile(str(exc)) from None
        except BaseException:
            # A full disk mid-import: the history stays as it was, without the half-built copy.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # Swap whole folders: a crash leaves either the old weeks or the new.
        old = self.directory / (WEEKS + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(self.weeks_dir, old)
        os.replace(staging, self.weeks_dir)
        shutil.rmtree(old, ignore_errors=True)
        self.state = HistoryState(moves_id=moves_id, source_file_id=file_id, source_sha256=sha256)
        self._save_state()
        return ImportReport(dropped=dropped, reordered=not in_order)

    def uploaded(self, file_id: int, sha256: str) -> None:
        self.state.source_file_id = file_id
        self.state.source_sha256 = sha256
        self.state.dirty = False
        self._save_state()

    def mark_dirty(self) -> None:
        """The history differs from the file it continues (it was repaired on import)."""
        self.state.dirty = True
        self._save_state()

    def profile_read(self) -> None:
        self.state.zone_changed = False
        self._save_state()

    def write_json(self, dest: Path) -> WrittenFile:
        """Write the history as the JSON list participants download, hashing it on the way.

        Also notes where each day's JSON sits in the file (offset and length),
        so one day can later be read back from Open Humans by byte range.
        """
        digest = hashlib.sha256()
        facts: list[DayFacts] = []
        size = 0
        partial = dest.with_name(dest.name + ".part")
        try:
            with open(partial, "wb") as out:

                def emit(chunk: bytes) -> None:
                    nonlocal size
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)

                emit(b"[")
                for number, line in enumerate(self.lines()):
                    if number:
                        emit(b",")
                    facts.append(DayFacts(line.day, line.state, line.steps, size, len(line.body)))
                    emit(line.body)
                emit(b"]")
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, dest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return WrittenFile(
            path=dest,
            sha256=digest.hexdigest(),
            size=size,
            days=len(facts),
            first_day=facts[0].day if facts else None,
            last_day=facts[-1].day if facts else None,
            facts=facts,
        )

    # --- Internals -----------------------------------------------------------------

    def _week_path(self, monday: date) -> Path:
        return self.weeks_dir / (monday.isoformat() + SUFFIX)

    def _write_week(self, monday: date, lines: list[Line]) -> None:
        _write_atomically(self._week_path(monday), b"".join(line.encode() for line in lines))

    def _load_state(self) -> HistoryState:
        try:
            return HistoryState(**json.loads(self.state_path.read_text()))
        except FileNotFoundError:
            return HistoryState()
        except (ValueError, TypeError) as exc:
            raise CorruptHistory(f"state unreadable ({type(exc).__name__})") from None

    def _save_state(self) -> None:
        _write_atomically(self.state_path, json.dumps(asdict(self.state)).encode())

    def _sweep_leftovers(self) -> None:
        # Temporary files of a run that died; the files they were to replace are intact.
        for leftover in [*self.weeks_dir.glob("*.tmp"), *self.directory.glob("*.tmp")]:
            leftover.unlink(missing_ok=True)
        for folder in (WEEKS + ".import", WEEKS + ".old"):
            shutil.rmtree(self.directory / folder, ignore_errors=True)
        for leftover in self.directory.glob("*.part"):
            leftover.unlink(missing_ok=True)


@dataclass(frozen=True)
class ImportReport:
    dropped: int
    reordered: bool


def discard_history(oh_id: str) -> None:
    """Remove a member's local history (disconnected or erased members)."""
    shutil.rmtree(Path(settings.DATA_WORK_DIR) / oh_id, ignore_errors=True)


def prune_local_histories() -> int:
    """Remove the histories of members who left, or whose runs go to another machine now.

    A disconnect asks every live machine to delete its copy; a machine that
    was down then catches up here when it starts.
    """
    from core.models import MovesMember

    keep = set(
        MovesMember.objects.exclude(refresh_token="")
        .filter(worker_home__in=["", settings.WORKER_NAME])
        .values_list("member__oh_id", flat=True)
    )
    removed = 0
    for oh_id in local_members():
        if oh_id not in keep:
            discard_history(oh_id)
            removed += 1
    return removed


def local_members() -> list[str]:
    """The members whose history this worker's disk holds."""
    root = Path(settings.DATA_WORK_DIR)
    if not root.exists():
        return []
    return sorted(path.name for path in root.iterdir() if path.is_dir())


def _newest_per_day(lines: Iterable[Line]) -> list[Line]:
    kept: dict[date, Line] = {}
    for line in lines:
        old = kept.get(line.day)
        if old is None or replaces(line, old) or (line.last_update == old.last_update):
            # Equal copies: the later one in the file wins, as it was written later.
            kept[line.day] = line
    return [kept[day] for day in sorted(kept)]


def _offset_differs(day: dict[str, Any], zone: Any) -> bool:
    """Whether the last segment of ``day`` ends with a UTC offset other than ``zone`` has then."""
    segments = day.get("segments")
    if not isinstance(segments, list) or not segments or not isinstance(segments[-1], dict):
        return False
    try:
        moment = parse_time(segments[-1].get("endTime"))
    except ValueError:
        return False
    expected = moment.astimezone(zone).utcoffset()
    return expected is not None and moment.utcoffset() != expected


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".tmp")
    try:
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        # A full disk or a failing write: the old file is intact, and its
        # half-written replacement must not take up the space that is left
        # (a disk that refuses even this has failed the caller already).
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
