"""The participant's pages around the dashboard: sign-in, log-out, disconnect, and what every page carries."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apiclients.oauth import TokenGrant
from core.models import MovesMember
from sandbox import testing


def test_dashboard_signed_out_says_to_sign_in(client, db):
    response = client.get("/dashboard/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/?next=")
    assert "Please sign in with Open Humans to see your dashboard." in response.content.decode()


def test_logging_out_confirms_it_on_a_page_of_its_own(member_client):
    response = member_client.post("/logout/", follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [("/logged-out/", 302)]
    assert "<h1>You are logged out</h1>" in html
    assert "Log out</button>" not in html
    assert member_client.get("/dashboard/").status_code == 302


def test_the_logged_out_page_sends_a_signed_in_member_to_the_dashboard(member_client):
    assert member_client.get("/logged-out/")["Location"] == "/dashboard/"


def test_logging_out_needs_a_post(member_client):
    assert member_client.get("/logout/").status_code == 405


def test_the_disconnect_confirmation_suggests_downloading_first(member_client, set_state):
    set_state(file_id=91)

    html = member_client.get("/remove_moves/").content.decode()

    assert "Download your file first" in html
    assert '<a class="button" href="/download/">Download moves-storyline-data.json</a>' in html


def test_the_disconnect_confirmation_without_a_file_offers_no_download(member_client):
    assert "Download your file first" not in member_client.get("/remove_moves/").content.decode()


@pytest.fixture
def sandboxed_member(sandbox_server, settings, make_member) -> MovesMember:
    """A member whose Open Humans tokens the stand-in accepts (they hold no file)."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    settings.OH_SOURCE_LABEL = ""
    oh = testing.create_oh_member("leaver")
    access, refresh = testing.issue_oh_tokens(oh)
    member = make_member(oh_id=oh.project_member_id)
    member.member.set_tokens(TokenGrant(access, refresh, 36000))
    member.member.save()
    return member


def test_after_disconnecting_moves_reads_disconnected(sandboxed_member):
    client = Client()
    client.force_login(sandboxed_member.member.user)

    response = client.post("/remove_moves/", follow=True)

    html = response.content.decode()
    assert '<dd id="moves-connection">Disconnected</dd>' in html
    assert '<h2 id="now-heading">Moves is disconnected</h2>' in html
    assert "Not connected yet" not in html
    status = client.get("/dashboard/status.json").json()
    assert '<dd id="moves-connection">Disconnected</dd>' in status["cards"]["connections"]


def test_a_member_who_never_connected_reads_not_connected_yet(member_client, moves):
    moves.delete()

    html = member_client.get("/dashboard/").content.decode()

    assert '<dd id="moves-connection">Not connected yet</dd>' in html
    assert '<a class="button button-primary" href="/moves/connect/">Connect Moves</a>' in html


def test_update_now_while_an_update_runs_asks_for_nothing(member_client, set_state):
    set_state(status=MovesMember.Status.CURRENT, lease_until=timezone.now() + timedelta(minutes=1))

    response = member_client.post("/update_data/", follow=True)

    assert "Already updating: nothing more was asked for" in response.content.decode()
    assert MovesMember.objects.get().last_submitted is None


@pytest.mark.parametrize("path", ["/", "/dashboard/", "/remove_moves/", "/logged-out/"])
def test_every_page_links_the_icon_and_carries_no_inline_script_or_style(client, moves, path):
    if path not in ("/", "/logged-out/"):
        client.force_login(moves.member.user)

    response = client.get(path)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<link rel="icon" href="/static/main/favicon.svg" type="image/svg+xml">' in html
    assert " style=" not in html
    assert "<style" not in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attributes or 'type="application/json"' in attributes for attributes in scripts)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_favicon_ico_points_at_the_icon(client, db):
    response = client.get("/favicon.ico")

    assert (response.status_code, response["Location"]) == (301, "/static/main/favicon.svg")
