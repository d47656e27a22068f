"""The small forms of an administrator's credit actions on the patient page."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from core.fields import EuroField

from .models import Package

MAX_CREDITS = 1000


class KeyedForm(forms.Form):
    """A form submitted twice (the same key) changes the ledger once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=40,
                                      validators=[RegexValidator(r"^[0-9a-f]{32}$")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class ImportForm(KeyedForm):
    package: forms.ModelChoiceField[Package] = forms.ModelChoiceField(
        label=_("Package"), queryset=Package.objects.none())
    credits = forms.IntegerField(label=_("Credits"), min_value=1, max_value=MAX_CREDITS)
    value_per_credit = EuroField(
        label=_("Value per credit"), required=False,
        help_text=_("Empty: the package's internal rate."))
    expires_on = forms.DateField(label=_("Expires on"), required=False, widget=DateInput(),
                                 help_text=_("Empty: the package's validity, from today."))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    field_order = ["package", "credits", "value_per_credit", "expires_on", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = Package.objects.filter(is_active=True)  # type: ignore[attr-defined]


class GrantForm(KeyedForm):
    package: forms.ModelChoiceField[Package] = forms.ModelChoiceField(
        label=_("Package"), queryset=Package.objects.none())
    credits = forms.IntegerField(label=_("Credits"), min_value=1, max_value=MAX_CREDITS)
    reason = forms.CharField(label=_("Reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = Package.objects.filter(is_active=True)  # type: ignore[attr-defined]


class AdjustForm(KeyedForm):
    change = forms.IntegerField(
        label=_("Change"), min_value=-MAX_CREDITS, max_value=MAX_CREDITS,
        help_text=_("Credits to add (such as 2) or to take away (such as -1)."))
    reason = forms.CharField(label=_("Reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ExtendForm(KeyedForm):
    expires_on = forms.DateField(label=_("New expiry"), required=False, widget=DateInput(),
                                 help_text=_("Empty: the lot no longer expires."))
    reason = forms.CharField(label=_("Reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
