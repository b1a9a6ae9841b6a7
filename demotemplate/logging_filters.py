"""A logging filter that removes tokens, codes and secrets from every log line."""

import logging
import re

# Tokens, codes and secrets, and the signatures of storage links (a signed
# upload or download URL is itself a credential until it expires).
_SECRET_NAMES = (
    r"(?:access_token|refresh_token|client_secret|code|token|password|secret|state"  # noqa: S105 - names
    r"|signature|x-amz-signature|x-amz-credential|x-amz-security-token|key)"
)
_PATTERNS = [
    # key=value in query strings and form bodies, and "key": "value" in JSON.
    re.compile(rf"(?i)(\b{_SECRET_NAMES}=)[^&\s'\"]+"),
    re.compile(rf"(?i)(['\"]{_SECRET_NAMES}['\"]\s*:\s*['\"])[^'\"]+"),
    # Authorization headers.
    re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(\bBasic\s+)[A-Za-z0-9+/=]+"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites the record's message (with its arguments and traceback) without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg = redact(message)
        record.args = None
        return True
