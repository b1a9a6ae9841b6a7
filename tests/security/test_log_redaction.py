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
