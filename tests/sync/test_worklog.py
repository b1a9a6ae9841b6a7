"""The worker's local history: what survives a crash, what an import repairs, what is uploaded."""

import json
from datetime import date

import pytest

from datauploader.worklog import DayLog, UnreadableHistory


def day(text: str, steps: int = 1) -> dict:
    return {"date": text, "summary": [{"activity": "walking", "steps": steps}], "segments": None}


@pytest.fixture
def history(tmp_path) -> DayLog:
    log = DayLog(tmp_path / "member")
    log.reset(moves_id=7)
    return log


def test_days_appended_but_not_committed_are_dropped_on_reopen(history, tmp_path):
    history.append([day("20180101"), day("20180102")])
    history.commit(resume_monday=date(2018, 1, 8))
    history.append([day("20180108")])  # the worker dies before committing

    reopened = DayLog(tmp_path / "member")

    assert [when.isoformat() for when, _ in reopened.index] == ["2018-01-01", "2018-01-02"]
    assert reopened.resume_monday == date(2018, 1, 8)
    assert reopened.path.stat().st_size == reopened.state.size


def test_a_lost_log_starts_over_instead_of_trusting_the_state(history, tmp_path):
    history.append([day("20180101")])
    history.commit(resume_monday=date(2018, 1, 8))
    history.path.unlink()

    reopened = DayLog(tmp_path / "member")

    assert len(reopened) == 0
    assert reopened.resume_monday is None
    assert not reopened.built_from(None, 7)


def test_append_skips_days_already_held(history):
    history.append([day("20180101"), day("20180102")])

    added = history.append([day("20180102", steps=5), day("20180103")])

    assert added == 1
    assert [d["date"] for d in history.days_from(0)] == ["20180101", "20180102", "20180103"]


def test_cut_from_drops_the_week_to_fetch_again(history):
    history.append([day(f"201801{n:02d}") for n in range(1, 11)])

    history.cut_from(date(2018, 1, 8))

    assert history.last_day == date(2018, 1, 7)
    assert history.days_since(date(2018, 1, 1))[-1]["date"] == "20180107"


def test_write_json_is_the_list_participants_download(history, tmp_path):
    history.append([day("20180101"), day("20180102", steps=3)])

    written = history.write_json(tmp_path / "out.json")

    assert json.loads(written.path.read_bytes()) == [day("20180101"), day("20180102", steps=3)]
    assert (written.days, written.first_day, written.last_day) == (2, date(2018, 1, 1), date(2018, 1, 2))
    assert written.size == written.path.stat().st_size


def test_import_puts_days_in_order_keeps_the_later_copy_and_drops_non_days(history, tmp_path):
    source = tmp_path / "held.json"
    source.write_text(
        json.dumps(
            [day("20180103"), {"error": "x"}, day("20180101"), 5, day("20180103", steps=9), day("bad")]
        )
    )

    report = history.import_history(source, file_id=41, moves_id=7)

    assert (report.days, report.dropped, report.reordered) == (2, 3, True)
    assert list(history.days_from(0)) == [day("20180101"), day("20180103", steps=9)]
    assert history.built_from(41, 7)
    assert history.resume_monday == date(2018, 1, 1)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'{"data": []}', b'"text"', b'[{"date": "20180101"}, {"da'],
    ids=["empty", "not-json", "object", "string", "truncated"],
)
def test_import_refuses_what_is_not_a_json_list_and_keeps_the_log(history, tmp_path, content):
    history.append([day("20180101")])
    history.commit()
    source = tmp_path / "held.json"
    source.write_bytes(content)

    with pytest.raises(UnreadableHistory):
        history.import_history(source, file_id=41, moves_id=7)

    assert [d["date"] for d in history.days_from(0)] == ["20180101"]
    assert not (history.directory / "days.log.import").exists()
