"""Forms of the consent pages, of the Open Humans endpoints and of the control page.

The Open Humans endpoint forms follow Open Humans' own (``private_sharing/forms.py``):
same fields, same required flags, same error messages, so that the 400
replies (the form's errors as JSON) read the same.
"""

import json
import re
import secrets
from datetime import datetime

from django import forms
from django.conf import settings

from sandbox import synthetic
from sandbox.faults import ENDPOINTS
from sandbox.models import SandboxMovesUser, SandboxOHMember


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
    share_username = forms.BooleanField(label="Share my username with the project", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].initial = _default_name("member")
        self.fields["username"].widget.attrs["list"] = "sandbox-members"
        self.fields["share_username"].initial = True


# --- Open Humans API forms, as the real server has them ---------------------------------


class UploadDataFileBaseForm(forms.Form):
    project_member_id = forms.CharField(label="Project member ID", required=True)
    metadata = forms.CharField(label="Metadata", required=True)
    datatypes = forms.CharField(label="Data type", required=False)

    def clean_datatypes(self) -> list:
        # The real server looks the names or ids up in its DataType table; the
        # stand-in has none and keeps what parses as a JSON list.
        raw = self.cleaned_data["datatypes"]
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(f"Could not parse the uploaded datatypes from: '{raw}'") from None
        if not isinstance(value, list):
            raise forms.ValidationError(f"Could not parse the uploaded datatypes from: '{raw}'")
        return value

    def clean_metadata(self) -> dict:
        try:
            metadata = json.loads(self.cleaned_data["metadata"])
        except ValueError:
            raise forms.ValidationError("could not parse the uploaded metadata") from None
        if not isinstance(metadata, dict) or "description" not in metadata:
            raise forms.ValidationError('"description" is a required field of the metadata')
        if not isinstance(metadata["description"], str):
            raise forms.ValidationError('"description" must be a string')
        if "tags" not in metadata:
            raise forms.ValidationError('"tags" is a required field of the metadata')
        if not isinstance(metadata["tags"], list):
            raise forms.ValidationError('"tags" must be an array of strings')
        for key in ("creation_date", "start_date", "end_date"):
            if key in metadata and not _is_iso8601(metadata[key]):
                raise forms.ValidationError("Dates must be in ISO 8601 format")
        if "md5" in metadata and not (
            isinstance(metadata["md5"], str)
            and re.match(r"[a-z0-9]{32}", metadata["md5"], flags=re.IGNORECASE)
        ):
            raise forms.ValidationError("Invalid MD5 specified")
        return metadata


def _is_iso8601(value: object) -> bool:
    # The real form asks arrow to parse the value; Python's own ISO 8601 parser is close.
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class DirectUploadDataFileForm(UploadDataFileBaseForm):
    filename = forms.CharField(label="File name", required=True)


class UploadDataFileForm(UploadDataFileBaseForm):
    data_file = forms.FileField(label="Data file", required=True)


class DirectUploadDataFileCompletionForm(forms.Form):
    file_id = forms.IntegerField(required=False, label="File ID")
    project_member_id = forms.CharField(label="Project member ID", required=True)


class DeleteDataFileForm(forms.Form):
    project_member_id = forms.CharField(label="Project member ID", required=True)
    file_id = forms.IntegerField(required=False, label="File ID")
    file_basename = forms.CharField(required=False, label="File basename")
    all_files = forms.BooleanField(required=False, label="All files")


class MessageProjectMembersForm(forms.Form):
    project_member_ids = forms.CharField(required=False, widget=forms.Textarea)
    all_members = forms.BooleanField(required=False)
    subject = forms.CharField(required=False)
    message = forms.CharField(required=True, widget=forms.Textarea)

    def clean_project_member_ids(self) -> list[SandboxOHMember]:
        raw = self.data.get("project_member_ids", "")
        if not isinstance(raw, str):
            raw = ",".join(raw)
        ids = [value for value in re.split(r"[ ,\r\n]+", raw) if value]
        if any(len(value) not in (8, 16) for value in ids):
            raise forms.ValidationError("Project member IDs are always 8 digits long.")
        members = list(SandboxOHMember.objects.filter(active=True, project_member_id__in=ids))
        if len(members) != len(ids):
            found = {m.project_member_id for m in members}
            missing = ", ".join(value for value in ids if value not in found)
            raise forms.ValidationError(f"Invalid project member ID(s): {missing}")
        return members

    def clean(self) -> dict:
        cleaned = super().clean()
        all_members = cleaned.get("all_members")
        ids = self.data.get("project_member_ids")
        if not all_members and not ids:
            raise forms.ValidationError("You must specify either all members or provide a list of IDs.")
        if all_members and ids:
            raise forms.ValidationError(
                "You must specify either all members or provide a list of IDs but not both."
            )
        return cleaned


# --- The control page ---------------------------------------------------------------------


class MovesUserForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    first_date = forms.DateField(
        label="First day with data (YYYY-MM-DD)",
        required=False,
        help_text="Leave empty for a history that ends today and grows with the clock.",
    )
    days = forms.IntegerField(
        label="Days of history",
        min_value=1,
        max_value=3700,
        required=False,
        help_text="With a first day, the history stops after this many days.",
    )
    city = forms.ChoiceField(label="Lives in", required=False)
    time_zone = forms.ChoiceField(label="Current time zone", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["city"].choices = [("", "Chosen from the user id")] + [
            (key, city.name) for key, city in sorted(synthetic.CITIES.items())
        ]
        self.fields["time_zone"].choices = [("", "The city's")] + [(z, z) for z in synthetic.COMMON_ZONES]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if SandboxMovesUser.objects.filter(name=name).exists():
            raise forms.ValidationError("A sandbox Moves user with this name exists already.")
        return name


class ZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Current time zone")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in synthetic.COMMON_ZONES]


class OfflineForm(forms.Form):
    days = forms.IntegerField(label="Offline for (days)", min_value=1, max_value=365, initial=3)


class DayForm(forms.Form):
    day = forms.DateField(label="Day (YYYY-MM-DD)")


class RenameForm(forms.Form):
    place = forms.TypedChoiceField(label="Place", coerce=int)
    name = forms.CharField(label="New name", max_length=100)

    def __init__(self, *args, places: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = places


class DropForm(forms.Form):
    count = forms.IntegerField(label="Drop the next N notifications", min_value=0, max_value=1000, initial=1)


class LeaveForm(forms.Form):
    erasure_requested = forms.BooleanField(label="Ask the project to erase my data", required=False)
    remove_files = forms.BooleanField(label="Remove the project's files", required=False)


class FaultForm(forms.Form):
    endpoint = forms.ChoiceField(choices=[(e, e) for e in ENDPOINTS])
    status = forms.IntegerField(label="Answer with HTTP status", min_value=100, max_value=599, required=False)
    count = forms.IntegerField(label="For the next N calls", min_value=1, max_value=100_000, initial=1)
    delay = forms.FloatField(label="Delay (seconds)", min_value=0, max_value=600, initial=0, required=False)
    malformed = forms.BooleanField(label="Return malformed JSON", required=False)
    nested = forms.BooleanField(label="Return JSON nested 100,000 levels deep", required=False)
    oversized = forms.IntegerField(
        label="Return a JSON list of this many bytes", min_value=1, max_value=2**31 - 1, required=False
    )
    retry_after = forms.CharField(label="Retry-After header", max_length=100, required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("delay"):
            data["delay"] = 0.0
        if sum(bool(data.get(name)) for name in ("malformed", "nested", "oversized")) > 1:
            raise forms.ValidationError("Choose one way to spoil the answer.")
        return data
