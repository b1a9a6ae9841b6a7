from tests.web.conftest import moves_member, no_upstream, queued, signed_in, start_handshake

__all__ = ["moves_member", "no_upstream", "queued", "signed_in", "start_handshake"]
