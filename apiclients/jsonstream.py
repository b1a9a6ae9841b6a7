"""Reading a JSON list one item at a time, with memory bounded by the largest item.

ijson's ``items`` tracks the path of every value as a string, which for a
maliciously deep document grows with the depth at every step (a list of
100,000 opening brackets took gigabytes). This builds the items from ijson's
plain events instead and refuses documents nested deeper than any real
storyline (a day is about eight levels deep).
"""

from collections.abc import Iterator
from typing import IO, Any

import ijson

MAX_DEPTH = 64


class NotAList(ValueError):
    """The document is not a JSON list (or not JSON at all, or nested beyond reason)."""


def list_items(source: IO[bytes], max_depth: int = MAX_DEPTH) -> Iterator[Any]:
    """Yield each item of the JSON list in ``source``; raises NotAList for anything else."""
    stack: list[Any] = []
    keys: list[str | None] = []
    started = False
    try:
        events = ijson.basic_parse(source, use_float=True)
        for event, value in events:
            if not started:
                if event != "start_array":
                    raise NotAList("the document is not a JSON list")
                started = True
                continue
            if event in ("start_map", "start_array"):
                if len(stack) >= max_depth:
                    raise NotAList(f"nested deeper than {max_depth} levels")
                stack.append({} if event == "start_map" else [])
                keys.append(None)
                continue
            if event == "map_key":
                keys[-1] = value
                continue
            if event in ("end_map", "end_array"):
                if not stack:
                    # The end of the top-level list: reading on makes the
                    # parser refuse anything but whitespace after it.
                    for _ in events:
                        pass
                    return
                value = stack.pop()
                keys.pop()
            if not stack:
                yield value
            elif isinstance(stack[-1], list):
                stack[-1].append(value)
            else:
                stack[-1][keys[-1]] = value
    except ijson.JSONError as exc:
        raise NotAList(f"not complete JSON ({type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise NotAList("not UTF-8") from None
    if not started:
        raise NotAList("the document is empty")
    raise NotAList("the list is not closed")
