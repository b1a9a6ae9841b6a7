"""The OAuth ``state`` parameter: one random value per handshake, kept in the session.

A callback is accepted only when it brings back the value this browser was
sent away with. That stops an attacker from completing a handshake of their
own in someone else's browser (login CSRF), which would link the victim to
the attacker's account.
"""

import hmac
import secrets

from django.contrib.sessions.backends.base import SessionBase

OPEN_HUMANS = "openhumans"
MOVES = "moves"
_SERVICES = (OPEN_HUMANS, MOVES)


def _session_key(service: str) -> str:
    if service not in _SERVICES:
        raise ValueError(f"unknown OAuth service {service!r}")
    return f"oauth_state_{service}"


def create_state(session: SessionBase, service: str) -> str:
    """Make a fresh state for ``service``, remember it in the session and return it."""
    state = secrets.token_urlsafe(32)
    session[_session_key(service)] = state
    return state


def check_state(session: SessionBase, service: str, received: str | None) -> bool:
    """True when ``received`` is the state this session holds for ``service``.

    The stored value is removed whatever the outcome, so a state works once:
    a replayed callback URL fails.
    """
    expected = session.pop(_session_key(service), None)
    if not expected or not received:
        return False
    return hmac.compare_digest(expected.encode(), received.encode())
