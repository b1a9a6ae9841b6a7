"""What a member reads when Moves or Open Humans fails: the service named, never its raw answer."""

import pytest

from apiclients.errors import (
    MOVES,
    OPEN_HUMANS,
    MalformedResponse,
    PermanentUpstreamError,
    TemporaryUpstreamError,
    TooLarge,
)
from datauploader.tasks import failure_words


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            PermanentUpstreamError(OPEN_HUMANS, 'unexpected answer: {"detail":"token abc123 invalid"}', 400),
            "Open Humans refused a request (HTTP 400).",
        ),
        (PermanentUpstreamError(MOVES, "no quota to spend", None), "Moves refused a request."),
        (TemporaryUpstreamError(MOVES, "HTTP 503", 503), "Moves is not answering right now."),
        (MalformedResponse(MOVES, "days.0.date: field required"), "Moves sent an answer we could not read."),
        (
            TooLarge(MOVES, "answer larger than 1.5 MB", None),
            "Moves sent more data for one week than we can take (answer larger than 1.5 MB).",
        ),
        (
            TooLarge(OPEN_HUMANS, "answer larger than 64 KB", None),
            "Open Humans sent a larger file than we can take (answer larger than 64 KB).",
        ),
    ],
)
def test_failures_are_told_in_our_words(error, words):
    service, told = failure_words(error)
    assert (service, told) == (error.service, words)
