"""The logging filter keeps tokens, codes and secrets out of log lines and tracebacks."""

import logging

from demotemplate.logging_filters import RedactSecretsFilter

SECRETS = ["tok-abc123", "code-xyz789", "shh-client-secret", "bearer-value-42"]


def formatted(record: logging.LogRecord) -> str:
    RedactSecretsFilter().filter(record)
    return logging.Formatter("%(message)s").format(record)


def test_log_redaction_hides_values_in_messages_and_arguments():
    record = logging.LogRecord(
        "test",
        logging.WARNING,
        __file__,
        1,
        "POST %s body=%s auth=%s",
        (
            "https://example.org/cb?code=code-xyz789&state=s1",
            '{"access_token": "tok-abc123", "client_secret": "shh-client-secret"}',
            "Bearer bearer-value-42",
        ),
        None,
    )

    line = formatted(record)

    for secret in SECRETS:
        assert secret not in line
    assert "[redacted]" in line


def test_log_redaction_hides_values_in_tracebacks():
    try:
        raise ValueError(
            "refresh failed for refresh_token=tok-abc123 with Authorization: Bearer bearer-value-42"
        )
    except ValueError:
        import sys

        record = logging.LogRecord("test", logging.ERROR, __file__, 1, "sync failed", None, sys.exc_info())

    line = formatted(record)

    assert "ValueError" in line
    assert "tok-abc123" not in line
    assert "bearer-value-42" not in line


def through_handlers(logger_name: str, message: str) -> list[str]:
    """``message`` as each configured handler that would write it for ``logger_name`` writes it.

    The handlers pytest adds to capture logs are left out: they are not the site's.
    """
    logger = logging.getLogger(logger_name)
    written = []
    while logger is not None:
        for handler in logger.handlers:
            # pytest's capture is not the site's, and a NullHandler writes nothing.
            if type(handler).__module__.startswith("_pytest") or isinstance(handler, logging.NullHandler):
                continue
            record = logging.LogRecord(logger_name, logging.INFO, __file__, 1, message, None, None)
            if handler.filter(record):
                written.append(handler.format(record))
        logger = logger.parent if logger.propagate else None
    return written


def test_app_log_lines_are_redacted_by_the_configured_handlers():
    lines = through_handlers("main.views", "callback with code=code-xyz789 failed")

    assert lines != []
    assert [line for line in lines if "code-xyz789" in line] == []


def test_request_lines_of_the_development_server_are_redacted():
    lines = through_handlers("django.server", '"GET /complete/?code=code-xyz789&state=s1 HTTP/1.1" 302 0')

    assert lines != []
    assert [line for line in lines if "code-xyz789" in line] == []


def test_signed_storage_links_are_redacted():
    lines = through_handlers(
        "urllib3.connectionpool",
        'PUT /member-files/a/b.json?AWSAccessKeyId=K&Signature=abc%2Bdef&Expires=1 HTTP/1.1" 200 0; '
        "GET /f.json?X-Amz-Credential=cred&X-Amz-Signature=0123abcd HTTP/1.1; "
        "GET /data-management/datafile-download/7/?key=fedcba98",
    )

    assert lines != []
    assert [
        line for line in lines if any(secret in line for secret in ("abc%2Bdef", "0123abcd", "fedcba98"))
    ] == []
