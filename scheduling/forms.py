from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.validators import RegexValidator
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from packages.queries import CreditPreview, credit_preview
from patients.models import Patient

from . import services
from .models import Appointment, AppointmentType, WorkingHours
from .queries import practitioners, treats


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", attrs={"step": 900} | kwargs.pop("attrs", {}), **kwargs)


class PractitionerField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.username)


class TypeField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.duration_minutes} min)"


class WhenMixin(forms.Form):
    """Date and start time as two inputs, combined in the practice's time zone."""

    date = forms.DateField(label=_("Date"), widget=DateInput())
    time = forms.TimeField(label=_("Start"), widget=TimeInput())

    def start(self) -> datetime.datetime:
        return timezone.make_aware(
            datetime.datetime.combine(self.cleaned_data["date"], self.cleaned_data["time"])
        )


class BookingForm(WhenMixin, forms.Form):
    patient = forms.ModelChoiceField(
        label=_("Patient"), queryset=Patient.objects.all(), widget=forms.HiddenInput,
        error_messages={"required": _("Find the patient and choose them from the list.")},
    )
    appointment_type = TypeField(
        label=_("Appointment type"), queryset=AppointmentType.objects.none())
    practitioner = PractitionerField(label=_("Practitioner"), queryset=User.objects.none())
    weeks = forms.IntegerField(
        label=_("Number of appointments"), min_value=1, max_value=services.MAX_WEEKS, initial=1,
        help_text=_("1 books one appointment; more books the same time every week. Either all "
                    "of them are booked or none."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=40,
        validators=[RegexValidator(r"^[0-9a-f]{32}$")],
    )

    field_order = ["patient", "appointment_type", "practitioner", "date", "time", "weeks", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The package comes along: booking reserves its credits.
        self.fields["appointment_type"].queryset = (  # type: ignore[attr-defined]
            AppointmentType.objects.filter(is_active=True).select_related("package"))
        self.fields["practitioner"].queryset = practitioners()  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    @cached_property
    def chosen_patient(self) -> Patient | None:
        """The patient to show as chosen when the form is shown (again)."""
        value = self["patient"].value()
        if isinstance(value, Patient):
            return value
        if value and str(value).isdigit():
            return Patient.objects.filter(pk=value).first()
        return None

    @property
    def chosen_found(self) -> list[Patient]:
        return [self.chosen_patient] if self.chosen_patient else []

    def _raw(self, name: str, parse: Any) -> Any:
        value = self[name].value()
        if value in (None, ""):
            return None
        try:
            return value if not isinstance(value, str) else parse(value)
        except ValueError:
            return None

    def credit_preview(self) -> CreditPreview | None:
        """The patient's credits for the chosen package type, read from what the dialog
        holds so far (it need not be valid yet)."""
        type_pk = self._raw("appointment_type", int)
        kind = AppointmentType.objects.select_related("package").filter(pk=type_pk).first() \
            if type_pk else None
        day = self._raw("date", datetime.date.fromisoformat)
        time = self._raw("time", datetime.time.fromisoformat)
        start = timezone.make_aware(datetime.datetime.combine(day, time or datetime.time())) \
            if day else None
        return credit_preview(self.chosen_patient, kind, start, self._raw("weeks", int) or 1)


class AppointmentForm(WhenMixin, forms.Form):
    """Reschedule: another time or practitioner, another type, or a changed note."""

    appointment_type = TypeField(
        label=_("Appointment type"), queryset=AppointmentType.objects.none())
    practitioner = PractitionerField(label=_("Practitioner"), queryset=User.objects.none())
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.CharField(widget=forms.HiddenInput)

    field_order = ["date", "time", "practitioner", "appointment_type", "note"]

    def __init__(self, *args: Any, appointment: Appointment, **kwargs: Any) -> None:
        local = timezone.localtime(appointment.start)
        kwargs.setdefault("initial", {}).update({
            "date": local.date(), "time": local.time(), "practitioner": appointment.practitioner,
            "appointment_type": appointment.type, "note": appointment.note,
            "version": services.version(appointment),
        })
        super().__init__(*args, **kwargs)
        self.fields["appointment_type"].queryset = AppointmentType.objects.filter(  # type: ignore[attr-defined]
            is_active=True) | AppointmentType.objects.filter(pk=appointment.type_id)
        self.fields["practitioner"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            Q(treats(), is_active=True) | Q(pk=appointment.practitioner_id)
        ).order_by("first_name", "last_name", "pk")


class CancelForm(forms.Form):
    cancelled_by = forms.ChoiceField(
        label=_("Who cancelled?"), choices=Appointment.CancelledBy.choices,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
    )


class WaiveForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why the patient gets the credit back. It shows in the history on the "
                    "patient's Packages tab."),
    )


class WorkingHoursForm(forms.Form):
    """From and until for each weekday; both empty means not working that day."""

    seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, practitioner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = {wh.weekday: wh for wh in WorkingHours.objects.filter(practitioner=practitioner)}
        self.days: list[tuple[str, forms.BoundField, forms.BoundField]] = []
        for day, label in WorkingHours.Weekday.choices:
            hours = current.get(day)
            self.fields[f"start_{day}"] = forms.TimeField(
                label=_("%(day)s from") % {"day": label}, required=False,
                widget=TimeInput(), initial=hours.start if hours else None)
            self.fields[f"end_{day}"] = forms.TimeField(
                label=_("%(day)s until") % {"day": label}, required=False,
                widget=TimeInput(), initial=hours.end if hours else None)
            self.days.append((str(label), self[f"start_{day}"], self[f"end_{day}"]))
        if not self.is_bound:
            self.initial["seen"] = services.hours_fingerprint(practitioner)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for day in range(7):
            start, end = data.get(f"start_{day}"), data.get(f"end_{day}")
            if (start is None) != (end is None):
                self.add_error(f"end_{day}" if start else f"start_{day}",
                               _("Fill in both times, or neither for a day off."))
            elif start is not None and end is not None and end <= start:
                self.add_error(f"end_{day}", _("The end must be after the start."))
        return data

    def hours(self) -> dict[int, services.Span | None]:
        result: dict[int, services.Span | None] = {}
        for day in range(7):
            start, end = self.cleaned_data.get(f"start_{day}"), self.cleaned_data.get(f"end_{day}")
            result[day] = (start, end) if start is not None and end is not None else None
        return result
