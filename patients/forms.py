from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crud import ConcurrencyModelForm

from .models import Patient
from .queries import possible_duplicates

NL_POSTCODE = re.compile(r"^\s*(\d{4})\s*([a-zA-Z]{2})\s*$")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class PatientForm(ConcurrencyModelForm):
    confirm_duplicate = forms.BooleanField(
        label=_("This is a different person: register a new patient anyway"),
        required=False, widget=forms.HiddenInput,
    )

    audit_exclude = ("confirm_duplicate",)

    class Meta:
        model = Patient
        fields = [
            "first_name", "last_name", "date_of_birth", "email", "phone", "street",
            "postal_code", "city", "language",
        ]
        widgets = {"date_of_birth": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[Patient] = []
        self.fields["date_of_birth"].required = True
        self.fields["first_name"].widget.attrs["autofocus"] = True

    def clean_date_of_birth(self) -> datetime.date | None:
        value: datetime.date | None = self.cleaned_data.get("date_of_birth")
        if value and not datetime.date(1900, 1, 1) <= value <= timezone.localdate():
            raise forms.ValidationError(_("Enter a date of birth between 1900 and today."))
        return value

    def clean_postal_code(self) -> str:
        value: str = self.cleaned_data.get("postal_code", "")
        match = NL_POSTCODE.match(value)
        return f"{match[1]} {match[2].upper()}" if match else value.strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not self.errors:
            self.duplicates = possible_duplicates(
                first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
                date_of_birth=data.get("date_of_birth"), email=data.get("email", ""),
            )
            if self.duplicates and not data.get("confirm_duplicate"):
                self.fields["confirm_duplicate"].widget = forms.CheckboxInput()
                raise forms.ValidationError(
                    _("This patient may already be registered: see below. Open the existing "
                      "record, or confirm that this is a different person.")
                )
        return data
