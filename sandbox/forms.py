"""Forms of the consent pages and of the Open Humans file endpoints.

The Open Humans endpoints answer 400 with ``form.errors`` as JSON, the way
the real server (Django forms behind a REST view) does.
"""

import json
import re
import secrets
from datetime import datetime

from django import forms
from django.conf import settings

from sandbox.faults import ENDPOINTS
from sandbox.models import SandboxMovesUser, SandboxOHMember
from sandbox.synthetic import CITIES

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
DATE_KEYS = ("creation_date", "start_date", "end_date")
INVALID_MEMBER = "project_member_id is invalid"


def _default_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class MovesConsentForm(forms.Form):
    name = forms.CharField(
        label="Sandbox Moves user",
        max_length=100,
        help_text="An existing name picks that user; a new name creates one.",
    )
    history_days = forms.IntegerField(
        label="Days of history for a new user",
        min_value=1,
        max_value=3700,
        required=False,
        help_text="Ending today. Ignored when the user exists already.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].initial = _default_name("walker")
        # Lets a browser suggest the existing users (the page renders the datalist).
        self.fields["name"].widget.attrs["list"] = "sandbox-users"
        self.fields["history_days"].initial = settings.SANDBOX_HISTORY_DAYS


class OHConsentForm(forms.Form):
    username = forms.CharField(
        label="Sandbox Open Humans member",
        max_length=150,
        help_text="An existing username picks that member; a new one creates a member.",
    )
    message_permission = forms.BooleanField(label="Allow the project to send me messages", required=False)
    share_username = forms.BooleanField(label="Share my username with the project", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].initial = _default_name("member")
        self.fields["username"].widget.attrs["list"] = "sandbox-members"
        self.fields["message_permission"].initial = True
        self.fields["share_username"].initial = True


class MemberForm(forms.Form):
    """Base of the file forms: the member named must be the token's, still in the project."""

    project_member_id = forms.CharField(max_length=16)

    def __init__(self, *args, member: SandboxOHMember, **kwargs) -> None:
        self.member = member
        super().__init__(*args, **kwargs)

    def clean_project_member_id(self) -> str:
        value = self.cleaned_data["project_member_id"]
        if value != self.member.project_member_id or not self.member.active:
            raise forms.ValidationError(INVALID_MEMBER)
        return value


class DirectUploadForm(MemberForm):
    filename = forms.CharField(max_length=255)
    metadata = forms.CharField()
    datatypes = forms.CharField(required=False)

    def clean_filename(self) -> str:
        name = self.cleaned_data["filename"]
        if "/" in name or "\\" in name or name in (".", ".."):
            raise forms.ValidationError("filename must be a plain file name")
        return name

    def clean_metadata(self) -> dict:
        try:
            metadata = json.loads(self.cleaned_data["metadata"])
        except ValueError:
            raise forms.ValidationError("metadata must be valid JSON") from None
        if not isinstance(metadata, dict):
            raise forms.ValidationError("metadata must be a JSON object")
        errors = []
        if "description" not in metadata:
            errors.append('"description" is a required field of the metadata')
        elif not isinstance(metadata["description"], str):
            errors.append('"description" must be a string')
        if "tags" not in metadata:
            errors.append('"tags" is a required field of the metadata')
        elif not isinstance(metadata["tags"], list) or not all(isinstance(t, str) for t in metadata["tags"]):
            errors.append('"tags" must be an array of strings')
        for key in DATE_KEYS:
            if key in metadata and not _is_iso8601(metadata[key]):
                errors.append(f'"{key}" must be an ISO 8601 date or date-time')
        if "md5" in metadata and not (isinstance(metadata["md5"], str) and _MD5.match(metadata["md5"])):
            errors.append('"md5" must be 32 hexadecimal digits')
        if errors:
            raise forms.ValidationError(errors)
        return metadata

    def clean_datatypes(self) -> list:
        raw = self.cleaned_data["datatypes"]
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("datatypes must be a JSON list") from None
        if not isinstance(value, list):
            raise forms.ValidationError("datatypes must be a JSON list")
        return value


def _is_iso8601(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class CompleteForm(MemberForm):
    file_id = forms.IntegerField(min_value=1)


class DeleteForm(MemberForm):
    file_id = forms.IntegerField(min_value=1, required=False)
    file_basename = forms.CharField(max_length=255, required=False)
    all_files = forms.CharField(required=False)

    def clean_all_files(self) -> bool:
        value = self.cleaned_data["all_files"].strip().lower()
        if value not in ("", "true", "false"):
            raise forms.ValidationError("all_files must be true or false")
        return value == "true"

    def clean(self) -> dict:
        data = super().clean()
        chosen = [
            data.get("file_id") is not None,
            bool(data.get("file_basename")),
            bool(data.get("all_files")),
        ]
        if sum(chosen) != 1:
            raise forms.ValidationError(
                "One (and only one) of the following must be specified: file_id, file_basename, all_files."
            )
        return data


class MessageForm(forms.Form):
    subject = forms.CharField(max_length=500)
    message = forms.CharField()


class MovesUserForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    first_date = forms.DateField(
        label="First day with data (YYYY-MM-DD)",
        required=False,
        help_text="Leave empty for a history that ends today.",
    )
    days = forms.IntegerField(
        label="Days of history",
        min_value=1,
        max_value=3700,
        required=False,
        help_text="With a first day, the history stops after this many days.",
    )
    time_zone = forms.ChoiceField(label="Time zone", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", "Chosen from the user id")] + [
            (z, z) for z in sorted(CITIES)
        ]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if SandboxMovesUser.objects.filter(name=name).exists():
            raise forms.ValidationError("A sandbox Moves user with this name exists already.")
        return name


class FaultForm(forms.Form):
    endpoint = forms.ChoiceField(choices=[(e, e) for e in ENDPOINTS])
    status = forms.IntegerField(label="Answer with HTTP status", min_value=100, max_value=599, required=False)
    count = forms.IntegerField(label="For the next N calls", min_value=1, max_value=100_000, initial=1)
    delay = forms.FloatField(label="Delay (seconds)", min_value=0, max_value=600, initial=0, required=False)
    malformed = forms.BooleanField(label="Return malformed JSON", required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("delay"):
            data["delay"] = 0.0
        return data
