import io
import json
import resource

import pytest

from apiclients.jsonstream import MAX_DEPTH, NotAList, list_items


def items(data: bytes, **kwargs) -> list:
    return list(list_items(io.BytesIO(data), **kwargs))


def test_list_items_yields_each_item_as_json_would_read_it():
    document = [
        {"date": "20160617", "summary": None, "segments": [{"type": "off", "n": 1, "x": 1.0}], "ok": True},
        [1, [2, []], {}],
        "text",
        3,
        2.5,
        None,
        False,
    ]
    data = json.dumps(document).encode()

    assert json.dumps(items(data)) == json.dumps(document)


def test_list_items_keeps_key_order_and_floats():
    (day,) = items(b'[{"z": 1, "a": 2.0, "m": {"y": 1e2, "b": -0.5}}]')

    assert list(day) == ["z", "a", "m"]
    assert list(day["m"]) == ["y", "b"]
    assert (type(day["a"]), type(day["m"]["y"]), day["m"]["y"]) == (float, float, 100.0)


def test_list_items_reads_lazily():
    reader = list_items(io.BytesIO(b'[{"a": 1}, {"b": 2}, oops'))

    assert next(reader) == {"a": 1}
    assert next(reader) == {"b": 2}
    with pytest.raises(NotAList):
        next(reader)


@pytest.mark.parametrize("data", [b"[]", b"  [ ]  \n", b"\n[\n]\n"])
def test_list_items_empty_list_has_no_items(data):
    assert items(data) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not complete JSON (IncompleteJSONError)"),
        (b"   ", "not complete JSON (IncompleteJSONError)"),
        (b'{"a": []}', "the document is not a JSON list"),
        (b'"[1]"', "the document is not a JSON list"),
        (b"3", "the document is not a JSON list"),
        (b"[1, 2", "not complete JSON (IncompleteJSONError)"),
        (b'[{"a": 1}', "not complete JSON (IncompleteJSONError)"),
        (b"[1,]", "not complete JSON (IncompleteJSONError)"),
        (b"[1] 2", "not complete JSON (IncompleteJSONError)"),
        (b"[1][2]", "not complete JSON (IncompleteJSONError)"),
        (b"[1]\x00", "not complete JSON (IncompleteJSONError)"),
        (b"<html></html>", "not complete JSON (IncompleteJSONError)"),
    ],
)
def test_list_items_refuses_anything_but_a_complete_list(data, message):
    with pytest.raises(NotAList) as caught:
        items(data)

    assert str(caught.value) == message


def test_list_items_refuses_bytes_that_are_not_utf8():
    with pytest.raises(NotAList):
        items(b'["\xff\xfe"]')


def test_list_items_accepts_items_nested_to_the_limit():
    nested = b"[" + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"]"

    (item,) = items(nested)

    depth = 0
    while item:
        item = item[0]
        depth += 1
    assert depth == MAX_DEPTH - 1


def test_list_items_refuses_items_nested_beyond_the_limit():
    nested = b"[" + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"]"

    with pytest.raises(NotAList) as caught:
        items(nested)

    assert str(caught.value) == f"nested deeper than {MAX_DEPTH} levels"


def test_list_items_depth_limit_can_be_lowered():
    assert items(b'[{"a": [1]}]', max_depth=2) == [{"a": [1]}]
    with pytest.raises(NotAList):
        items(b'[{"a": [[1]]}]', max_depth=2)


def test_list_items_a_huge_depth_is_refused_in_little_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pytest.raises(NotAList):
        items(b"[" * 5_000_000)

    # ru_maxrss is in KiB on Linux: the peak grew by less than 50 MB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024
