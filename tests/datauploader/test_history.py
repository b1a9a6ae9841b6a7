"""The worker's local history: week files merged by lastUpdate, written atomically, read back or refused."""

import errno
import hashlib
import json
import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.days import HAS_DATA, NO_DATA
from datauploader.history import CorruptHistory, Line, LocalHistory, UnreadableFile, replaces

MONDAY = date(2016, 6, 13)


def day(text: str, last_update: str | None = "20160618T133300Z", steps: int = 100, **extra) -> dict:
    value = {
        "date": text,
        "summary": [
            {"activity": "walking", "group": "walking", "duration": 60.0, "distance": 50.0, "steps": steps}
        ],
        "segments": [
            {
                "type": "place",
                "startTime": f"{text}T000000-0700",
                "endTime": f"{text}T235959-0700",
                "place": {
                    "id": 1,
                    "name": "Home",
                    "type": "home",
                    "location": {"lat": 50.06094381015026, "lon": 8.8},
                },
            }
        ],
    }
    if last_update is not None:
        value["lastUpdate"] = last_update
    value.update(extra)
    return value


def null_day(text: str) -> dict:
    return {"date": text, "summary": None, "segments": None}


@pytest.fixture
def history(tmp_path: Path) -> LocalHistory:
    return LocalHistory(tmp_path / "12345678")


def held(history: LocalHistory) -> list[tuple[str, str]]:
    return [(f"{line.day:%Y%m%d}", line.last_update) for line in history.lines()]


def test_merge_week_keeps_days_exactly_as_sent(history):
    sent = [day("20160613"), day("20160614", steps=992)]
    history.merge_week(MONDAY, sent)
    assert [json.loads(line.body) for line in history.lines()] == sent
    assert [line.steps for line in history.lines()] == [100, 992]
    assert history.state.dirty is True


def test_merge_week_replaces_a_day_only_when_its_last_update_is_newer(history):
    history.merge_week(MONDAY, [day("20160613", "20170101T000000Z", steps=1)])
    older = history.merge_week(MONDAY, [day("20160613", "20161231T000000Z", steps=2)])
    assert older.changed == []
    newer = history.merge_week(MONDAY, [day("20160613", "20170529T203310Z", steps=3)])
    assert newer.changed == [date(2016, 6, 13)]
    assert [line.steps for line in history.lines()] == [3]


def test_merge_week_keeps_days_the_answer_leaves_out(history):
    history.merge_week(MONDAY, [day("20160613"), day("20160614")])
    history.merge_week(MONDAY, [day("20160614", "20170101T000000Z")])
    assert held(history) == [("20160613", "20160618T133300Z"), ("20160614", "20170101T000000Z")]


def test_merge_week_never_drops_a_day_our_clock_thinks_is_in_the_future(history):
    history.merge_week(date(2099, 12, 28), [day("20991231")])
    assert held(history) == [("20991231", "20160618T133300Z")]


def test_a_day_gaining_data_replaces_a_null_day_but_not_the_other_way(history):
    history.merge_week(MONDAY, [null_day("20160616")])
    history.merge_week(MONDAY, [day("20160616")])
    assert [line.state for line in history.lines()] == [HAS_DATA]
    history.merge_week(MONDAY, [null_day("20160616")])
    assert [line.state for line in history.lines()] == [HAS_DATA]


def test_replaces_rules():
    def line(last_update: str, body: bytes = b"{}") -> Line:
        return Line(MONDAY, last_update, 0, NO_DATA, body)

    assert replaces(line("20170102T000000Z"), line("20170101T000000Z")) is True
    assert replaces(line("20170101T000000Z"), line("20170101T000000Z")) is False
    assert replaces(line(""), line("20170101T000000Z")) is False
    assert replaces(line("20170101T000000Z"), line("")) is True
    assert replaces(line("", b'{"a":1}'), line("", b'{"a":2}')) is True
    assert replaces(line("", b"{}"), line("", b"{}")) is False


def test_a_day_of_another_week_goes_to_its_own_week(history):
    history.merge_week(MONDAY, [day("20160620")])
    assert history.mondays() == [date(2016, 6, 20)]


def test_merge_notices_an_offset_other_than_the_members_zone(history):
    history.merge_week(MONDAY, [day("20160613")], ZoneInfo("America/Los_Angeles"))
    assert history.state.zone_changed is False
    history.merge_week(MONDAY, [day("20160614")], ZoneInfo("Europe/Berlin"))
    assert history.state.zone_changed is True
    history.profile_read()
    assert history.state.zone_changed is False


def test_state_survives_reopening(history):
    history.merge_week(MONDAY, [day("20160613")])
    history.uploaded(40330, "ab" * 32)
    again = LocalHistory(history.directory)
    assert (again.state.source_file_id, again.state.source_sha256, again.state.dirty) == (
        40330,
        "ab" * 32,
        False,
    )
    assert again.built_from(40330, None) is True


def test_a_write_killed_before_its_rename_leaves_the_old_week(history):
    history.merge_week(MONDAY, [day("20160613")])
    # What a run killed between writing and renaming leaves behind.
    (history.weeks_dir / "2016-06-13.days.tmp").write_bytes(b'20160613\t-\t0\t1\t{"date":"2016')
    again = LocalHistory(history.directory)
    assert held(again) == [("20160613", "20160618T133300Z")]
    assert list(again.weeks_dir.glob("*.tmp")) == []


def full_disk(fd: int) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_leaves_the_old_week_and_no_partial_copy(history, monkeypatch):
    history.merge_week(MONDAY, [day("20160613")])
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        history.merge_week(MONDAY, [day("20160614")])
    monkeypatch.undo()
    leftovers = sorted(path.name for path in history.directory.rglob("*.tmp"))
    assert (leftovers, held(LocalHistory(history.directory))) == ([], [("20160613", "20160618T133300Z")])


def test_an_import_that_fails_for_the_disk_keeps_the_history_and_no_partial_copy(
    history, tmp_path, monkeypatch
):
    history.merge_week(MONDAY, [day("20160613")])
    source = tmp_path / "download.json"
    source.write_text(json.dumps([day("20160620"), day("20160621")]))
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        history.import_file(source, 1, "", None)
    monkeypatch.undo()
    assert not (history.directory / "weeks.import").exists()
    assert held(history) == [("20160613", "20160618T133300Z")]


def test_a_line_cut_short_is_detected(history):
    history.merge_week(MONDAY, [day("20160613")])
    path = history.weeks_dir / "2016-06-13.days"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CorruptHistory):
        history.check()


def test_a_day_in_the_wrong_week_file_is_detected(history):
    history.merge_week(MONDAY, [day("20160613")])
    (history.weeks_dir / "2016-06-13.days").rename(history.weeks_dir / "2016-06-20.days")
    with pytest.raises(CorruptHistory):
        history.check()


def test_unreadable_state_is_detected(tmp_path):
    folder = tmp_path / "1"
    folder.mkdir()
    (folder / "state.json").write_text("{not json")
    with pytest.raises(CorruptHistory):
        LocalHistory(folder)


def test_write_json_is_the_days_in_order_with_their_places_in_the_file(history, tmp_path):
    history.merge_week(date(2016, 6, 20), [day("20160620")])
    history.merge_week(MONDAY, [null_day("20160616"), day("20160617")])
    written = history.write_json(tmp_path / "out.json")
    raw = written.path.read_bytes()
    assert json.loads(raw) == [null_day("20160616"), day("20160617"), day("20160620")]
    assert written.sha256 == hashlib.sha256(raw).hexdigest()
    assert (written.size, written.days, written.first_day, written.last_day) == (
        len(raw),
        3,
        date(2016, 6, 16),
        date(2016, 6, 20),
    )
    for fact in written.facts:
        assert json.loads(raw[fact.offset : fact.offset + fact.length])["date"] == f"{fact.day:%Y%m%d}"
    assert [fact.state for fact in written.facts] == [NO_DATA, HAS_DATA, HAS_DATA]


def test_import_file_puts_days_in_order_and_drops_what_is_not_a_day(history, tmp_path):
    source = tmp_path / "download.json"
    entries = [
        day("20160620"),
        {"error": "rate limited"},
        day("20160613"),
        day("20160613", "20170101T000000Z"),
    ]
    source.write_text(json.dumps(entries))
    report = history.import_file(source, 40330, "cd" * 32, 12345678)
    assert (report.dropped, report.reordered) == (1, True)
    assert held(history) == [("20160613", "20170101T000000Z"), ("20160620", "20160618T133300Z")]
    assert (history.state.source_file_id, history.state.moves_id, history.state.dirty) == (
        40330,
        12345678,
        False,
    )


@pytest.mark.parametrize(
    "content",
    [b'{"date": "20160613"}', b'[{"date": "20160613"', b"not json", b'"a string"', b"[" * 100000],
    ids=["object", "truncated", "not json", "string", "deeply nested"],
)
def test_import_file_refuses_what_is_not_a_list_of_days_and_keeps_the_history(history, tmp_path, content):
    history.merge_week(MONDAY, [day("20160613")])
    source = tmp_path / "download.json"
    source.write_bytes(content)
    with pytest.raises(UnreadableFile):
        history.import_file(source, 1, "", None)
    assert held(history) == [("20160613", "20160618T133300Z")]
    assert not (history.directory / "weeks.import").exists()


def test_last_days_are_the_most_recent_days_with_data(history):
    history.merge_week(MONDAY, [day("20160613"), day("20160614"), null_day("20160615")])
    assert [found["date"] for found in history.last_days(1)] == ["20160614"]
    assert [found["date"] for found in history.last_days(5)] == ["20160613", "20160614"]


def test_reset_empties_the_history(history):
    history.merge_week(MONDAY, [day("20160613")])
    history.reset(99)
    assert (history.is_empty(), history.state.moves_id, history.state.source_file_id) == (True, 99, None)
