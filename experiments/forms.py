"""Forms of the portal's pages. They check shape only; the services decide."""

from __future__ import annotations

from django import forms

from experiments.services.deletion import PURGE_AGE_MAX_DAYS


class ResourceGroupForm(forms.Form):
    name = forms.CharField(max_length=90)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=63)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ConfirmDeletionForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the name to confirm",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PurgeForm(forms.Form):
    older_than_days = forms.FloatField(
        label="Only what was deleted at least this many days ago",
        min_value=0,
        max_value=PURGE_AGE_MAX_DAYS,
        initial=0,
    )
