"""The consent page of both stand-ins: reading the authorization request and answering it.

A request that cannot be trusted (unknown client, bad redirect_uri) gets an
error page, never a redirect, as OAuth 2.0 section 4.1.2.1 asks.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from sandbox.web import is_web_url, same_secret, with_query


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    # Where the answer goes: the one given, else the client's registered one.
    redirect_uri: str
    # As the client sent it (maybe empty); a token request must repeat it.
    given_redirect_uri: str
    state: str | None
    scope: str = ""

    def hidden_fields(self) -> dict[str, str]:
        """The request's parameters, carried through the consent form."""
        fields = {"response_type": "code", "client_id": self.client_id}
        if self.scope:
            fields["scope"] = self.scope
        if self.given_redirect_uri:
            fields["redirect_uri"] = self.given_redirect_uri
        if self.state is not None:
            fields["state"] = self.state
        return fields

    def denied(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            with_query(self.redirect_uri, {"error": "access_denied", "state": self.state})
        )

    def approved(self, code: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(with_query(self.redirect_uri, {"code": code, "state": self.state}))


def parse_authorize_request(
    values: Mapping[str, str],
    *,
    client_id: str,
    default_redirect_uri: str,
    allowed_scopes: set[str] | None = None,
) -> AuthorizeRequest | str:
    """The validated request, or the reason it cannot be shown to the person."""
    if values.get("response_type") != "code":
        return "response_type must be code."
    given_client = values.get("client_id", "")
    if not same_secret(given_client, client_id):
        return "Unknown client_id."
    scope = ""
    if allowed_scopes is not None:
        scopes = values.get("scope", "").split()
        if not scopes or not set(scopes) <= allowed_scopes:
            return f"scope must be one or more of: {', '.join(sorted(allowed_scopes))}, separated by spaces."
        scope = " ".join(scopes)
    given = values.get("redirect_uri", "")
    if given and not is_web_url(given):
        return "redirect_uri must be an http or https URL."
    return AuthorizeRequest(
        client_id=given_client,
        redirect_uri=given or default_redirect_uri,
        given_redirect_uri=given,
        state=values.get("state"),
        scope=scope,
    )


def refused(request: HttpRequest, service: str, reason: str) -> HttpResponse:
    context = {"service": service, "reason": reason}
    return render(request, "sandbox/authorize_error.html", context, status=400)


@dataclass(frozen=True)
class ConsentPage:
    """What one stand-in's consent page asks, and the form it asks it with."""

    service: str
    title: str
    heading: str
    # Who asks ("application", "project") and for what; the client id stands between them.
    client_kind: str
    asks: str
    # What the accounts are called in "Existing ...:".
    account_noun: str
    form_class: type[forms.Form]
    # The scopes the service knows and what each grants; None: the request carries no scope.
    scopes: Mapping[str, str] | None = None


def consent(
    request: HttpRequest,
    page: ConsentPage,
    *,
    client_id: str,
    default_redirect_uri: str,
    existing: Iterable[str],
    grant: Callable[[AuthorizeRequest, dict], str],
) -> HttpResponse:
    """Show the consent page, or answer the person's decision.

    The page posts to itself (with CSRF protection). On "allow" with a valid
    form, ``grant`` gets the request and the form's data and returns the code
    to send back.
    """
    auth = parse_authorize_request(
        request.GET if request.method == "GET" else request.POST,
        client_id=client_id,
        default_redirect_uri=default_redirect_uri,
        allowed_scopes=None if page.scopes is None else set(page.scopes),
    )
    if isinstance(auth, str):
        return refused(request, page.service, auth)
    form = page.form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if request.POST.get("decision") == "deny":
            return auth.denied()
        if request.POST.get("decision") == "allow" and form.is_valid():
            return auth.approved(grant(auth, form.cleaned_data))
    context = {
        "page": page,
        "auth": auth,
        "form": form,
        "action": request.path,
        "scopes": [(name, page.scopes[name]) for name in auth.scope.split()] if page.scopes else [],
        "existing": list(existing),
    }
    return render(request, "sandbox/consent.html", context)
