"""Webhook deliveries remembered by digest, so that a replay is recognised."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from core import deliveries
from core.models import WebhookDelivery


def test_digest_is_the_same_for_the_same_parts():
    assert deliveries.digest("23456789", "True", "2024-05-01T12:00:00+00:00") == deliveries.digest(
        "23456789", "True", "2024-05-01T12:00:00+00:00"
    )


def test_digest_tells_apart_parts_that_join_to_the_same_text():
    assert deliveries.digest("2345", "6789") != deliveries.digest("23456789")
    assert deliveries.digest("a", "bc") != deliveries.digest("ab", "c")


def test_digest_is_64_hex_digits():
    value = deliveries.digest("nonce")

    assert (len(value), set(value) <= set("0123456789abcdef")) == (64, True)


def test_first_delivery_is_true_once(db):
    key = deliveries.digest("4f1c2a9e0d3b7a15")

    assert [deliveries.first_delivery("moves", key), deliveries.first_delivery("moves", key)] == [True, False]
    assert WebhookDelivery.objects.count() == 1


def test_first_delivery_of_each_kind_is_its_own(db):
    key = deliveries.digest("same")

    assert [deliveries.first_delivery("moves", key), deliveries.first_delivery("openhumans", key)] == [
        True,
        True,
    ]


def test_a_replay_inside_a_transaction_leaves_the_transaction_usable(db):
    key = deliveries.digest("nonce")
    deliveries.first_delivery("moves", key)

    deliveries.first_delivery("moves", key)

    assert WebhookDelivery.objects.filter(kind="moves").count() == 1


def test_forget_old_deliveries_keeps_them_twice_the_accepted_age(db, settings):
    settings.WEBHOOK_MAX_AGE_SECONDS = 900
    now = timezone.now()
    with time_machine.travel(now - timedelta(seconds=1801), tick=False):
        deliveries.first_delivery("moves", deliveries.digest("old"))
    with time_machine.travel(now - timedelta(seconds=1799), tick=False):
        deliveries.first_delivery("moves", deliveries.digest("recent"))

    with time_machine.travel(now, tick=False):
        assert deliveries.forget_old_deliveries() == 1

    assert list(WebhookDelivery.objects.values_list("digest", flat=True)) == [deliveries.digest("recent")]
