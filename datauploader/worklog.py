"""A member's history as a local log of days that the worker extends week by week.

Holding a five-year history in memory takes hundreds of megabytes, so the
worker keeps it on disk instead: one line per day, each line the day's date
followed by the day's JSON. The date prefix lets the log be cut at a week or
read from a date without parsing any JSON. A small state file says which file
on Open Humans the log was built from and which week to fetch next, so a
re-enqueued task continues where the last one stopped instead of downloading
the whole history again.

Only what the state file records is trusted: every open cuts the log back to
the size recorded with the last commit, so days appended by a run that died
before committing are dropped and fetched again.
"""

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import ijson
from django.conf import settings

log = logging.getLogger(__name__)

LOG_NAME = "days.log"
STATE_NAME = "state.json"
DATE_LENGTH = 8  # YYYYMMDD


class UnreadableHistory(Exception):
    """A history file is not a JSON list (not JSON, truncated, or another shape)."""


@dataclass
class LogState:
    moves_id: int | None = None
    # The Open Humans file the log was built from or last uploaded as; None
    # when no file has been uploaded yet.
    source_file_id: int | None = None
    # SHA-256 of the JSON last uploaded from the log, to skip identical uploads.
    uploaded_sha256: str = ""
    # Monday of the first ISO week still to fetch; None before the first fetch.
    resume_monday: str | None = None
    # Bytes of the log that the last commit vouches for.
    size: int = 0


@dataclass(frozen=True)
class ImportReport:
    days: int
    dropped: int
    reordered: bool


@dataclass(frozen=True)
class WrittenHistory:
    path: Path
    sha256: str
    size: int
    days: int
    first_day: date
    last_day: date


def parse_day_date(value: Any) -> date:
    """The date of a Moves day (``YYYYMMDD``); ValueError when it is not one."""
    if not isinstance(value, str) or len(value) != DATE_LENGTH or not value.isdigit():
        raise ValueError(f"not a YYYYMMDD date: {value!r}")
    return datetime.strptime(value, "%Y%m%d").date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _encode(day: dict) -> bytes:
    body = json.dumps(day, separators=(",", ":"))
    return f"{day['date']} {body}\n".encode()


class DayLog:
    """The local history of one member; one worker at a time (the member lock)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOG_NAME
        self.state_path = directory / STATE_NAME
        directory.mkdir(parents=True, exist_ok=True)
        self.state = self._load_state()
        # (date, byte offset) of every day in the log, in date order.
        self.index: list[tuple[date, int]] = []
        self._open()

    @classmethod
    def for_member(cls, oh_id: str) -> "DayLog":
        return cls(Path(settings.DATA_WORK_DIR) / oh_id)

    # Reading ---------------------------------------------------------------

    @property
    def first_day(self) -> date | None:
        return self.index[0][0] if self.index else None

    @property
    def last_day(self) -> date | None:
        return self.index[-1][0] if self.index else None

    @property
    def resume_monday(self) -> date | None:
        return date.fromisoformat(self.state.resume_monday) if self.state.resume_monday else None

    def __len__(self) -> int:
        return len(self.index)

    def built_from(self, file_id: int | None, moves_id: int | None) -> bool:
        """Whether the log continues the given Open Humans file of the given Moves account."""
        return self.state.source_file_id == file_id and self.state.moves_id == moves_id

    def day_at(self, position: int) -> dict:
        with open(self.path, "rb") as source:
            source.seek(self.index[position][1])
            return json.loads(source.readline()[DATE_LENGTH + 1 :])

    def days_since(self, day: date) -> list[dict]:
        """The days held on or after ``day`` (a few at most: callers ask for the last week)."""
        position = next((n for n, (when, _) in enumerate(self.index) if when >= day), len(self.index))
        return list(self.days_from(position))

    def days_from(self, position: int) -> Iterator[dict]:
        """Parse the days from index ``position`` on, in date order."""
        if position >= len(self.index):
            return
        with open(self.path, "rb") as source:
            source.seek(self.index[position][1])
            for line in source:
                yield json.loads(line[DATE_LENGTH + 1 :])

    # Building --------------------------------------------------------------

    def reset(self, moves_id: int | None) -> None:
        """Start an empty history for ``moves_id``."""
        self.path.write_bytes(b"")
        self.index = []
        self.state = LogState(moves_id=moves_id)
        self.commit()

    def import_history(self, source: Path, file_id: int, moves_id: int | None) -> ImportReport:
        """Replace the log with the days of a history file downloaded from Open Humans.

        Streams the file, so memory does not grow with its length. Entries
        that are not days (older versions of this uploader appended API error
        bodies to the list) are dropped and counted; days out of order or
        repeated are put in order, the later copy winning. Raises
        UnreadableHistory, leaving the log as it was, when the file is not a
        JSON list.
        """
        staging = self.directory / (LOG_NAME + ".import")
        index: list[tuple[date, int]] = []
        dropped = 0
        in_order = True
        try:
            with open(source, "rb") as raw, open(staging, "wb") as out:
                _expect_list(raw)
                for item in ijson.items(raw, "item", use_float=True):
                    try:
                        when = parse_day_date(item.get("date") if isinstance(item, dict) else None)
                    except ValueError:
                        dropped += 1
                        continue
                    if index and when <= index[-1][0]:
                        in_order = False
                    index.append((when, out.tell()))
                    out.write(_encode(item))
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            staging.unlink(missing_ok=True)
            raise UnreadableHistory(f"not a complete JSON list ({exc})") from None
        except UnreadableHistory:
            staging.unlink(missing_ok=True)
            raise
        if not in_order:
            index = _sort_unique(staging, index)
        os.replace(staging, self.path)
        self.index = index
        last = index[-1][0] if index else None
        self.state = LogState(
            moves_id=moves_id,
            source_file_id=file_id,
            # The last week held may have been partial when it was fetched.
            resume_monday=monday_of(last).isoformat() if last else None,
        )
        self.commit()
        return ImportReport(days=len(index), dropped=dropped, reordered=not in_order)

    def cut_from(self, day: date) -> None:
        """Drop every day on or after ``day`` (the partial week to fetch again)."""
        keep = next((position for position, (when, _) in enumerate(self.index) if when >= day), None)
        if keep is None:
            return
        offset = self.index[keep][1]
        with open(self.path, "r+b") as out:
            out.truncate(offset)
        del self.index[keep:]

    def append(self, days: Iterable[dict]) -> int:
        """Append the days later than the last one held; returns how many were added."""
        added = 0
        with open(self.path, "ab") as out:
            for day in days:
                when = parse_day_date(day["date"])
                if self.index and when <= self.index[-1][0]:
                    continue
                self.index.append((when, out.tell()))
                out.write(_encode(day))
                added += 1
            out.flush()
            os.fsync(out.fileno())
        return added

    def commit(self, resume_monday: date | None = None) -> None:
        """Vouch for the log as it is now, and say which week to fetch next."""
        if resume_monday is not None:
            self.state.resume_monday = resume_monday.isoformat()
        self.state.size = self.path.stat().st_size
        _write_atomically(self.state_path, json.dumps(asdict(self.state)).encode())

    def mark_uploaded(self, file_id: int, sha256: str) -> None:
        self.state.source_file_id = file_id
        self.state.uploaded_sha256 = sha256
        self.commit()

    def write_json(self, dest: Path) -> WrittenHistory:
        """Write the history as the JSON list participants download, hashing it on the way."""
        if not self.index:
            raise ValueError("an empty history is never uploaded")
        digest = hashlib.sha256()
        size = 0
        with open(self.path, "rb") as source, open(dest, "wb") as out:

            def emit(chunk: bytes) -> None:
                nonlocal size
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)

            emit(b"[")
            for number, line in enumerate(source):
                emit((b"," if number else b"") + line[DATE_LENGTH + 1 : -1])
            emit(b"]")
        return WrittenHistory(
            path=dest,
            sha256=digest.hexdigest(),
            size=size,
            days=len(self.index),
            first_day=self.index[0][0],
            last_day=self.index[-1][0],
        )

    # Internals -------------------------------------------------------------

    def _load_state(self) -> LogState:
        try:
            raw = json.loads(self.state_path.read_text())
            return LogState(**raw)
        except FileNotFoundError:
            return LogState()
        except (ValueError, TypeError) as exc:
            log.warning("work log %s: state unreadable (%s); starting over", self.directory.name, exc)
            return LogState()

    def _open(self) -> None:
        if not self.path.exists() or self.path.stat().st_size < self.state.size:
            # Lost or shorter than committed: nothing in it can be trusted.
            self.path.write_bytes(b"")
            self.state = LogState()
            return
        with open(self.path, "r+b") as source:
            source.truncate(self.state.size)
            offset = 0
            try:
                for line in source:
                    self.index.append((parse_day_date(line[:DATE_LENGTH].decode()), offset))
                    offset += len(line)
            except (ValueError, UnicodeDecodeError):
                log.warning("work log %s: damaged; starting over", self.directory.name)
                source.truncate(0)
                self.index = []
                self.state = LogState()


def discard_log(oh_id: str) -> None:
    """Remove a member's local history (disconnected or erased members)."""
    shutil.rmtree(Path(settings.DATA_WORK_DIR) / oh_id, ignore_errors=True)


def _expect_list(raw: IO[bytes]) -> None:
    # ijson's "item" prefix quietly yields nothing for an object or a string,
    # which would read as an empty history; only a list is a history.
    head = raw.read(1024).lstrip()
    raw.seek(0)
    if not head.startswith(b"["):
        raise UnreadableHistory("the file is not a JSON list")


def _sort_unique(path: Path, index: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """Rewrite the log at ``path`` in date order, keeping the last copy of each day."""
    latest: dict[date, int] = {}
    for when, offset in index:
        latest[when] = offset
    ordered = path.with_name(path.name + ".sorted")
    result = []
    with open(path, "rb") as source, open(ordered, "wb") as out:
        for when in sorted(latest):
            source.seek(latest[when])
            result.append((when, out.tell()))
            out.write(source.readline())
    os.replace(ordered, path)
    return result


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
