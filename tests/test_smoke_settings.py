from django.conf import settings


def test_settings_register_both_moves_realms():
    assert settings.MOVES_REQUESTER.fetch_registered_realms() == ["moves", "moves-hourly"]
    assert settings.MOVES_REQUESTER.realm_max_requests("moves") == 60
    assert settings.MOVES_REQUESTER.realm_timespan("moves-hourly") == 3600.0
