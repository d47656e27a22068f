"""Settings → Appointments → Standard appointments: form, write path and screen for
appointment types (the calendar's own views, forms and services live beside this)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.utils.translation import gettext_lazy

from core import services
from core.crud import Column, ConcurrencyModelForm, Crud
from core.fields import ActiveModelChoiceField, EuroField, keep_linked
from packages.models import Package
from packages.services import lock_for_linking

from .models import AppointmentType


class AppointmentTypeForm(ConcurrencyModelForm):
    price = EuroField(
        label=gettext_lazy("Price per visit"), required=False,
        help_text=gettext_lazy("For visits paid per visit. Leave empty when a package pays."),
    )
    package = ActiveModelChoiceField(
        Package.objects.all(), required=False, label=gettext_lazy("Package"),
        help_text=gettext_lazy("An appointment of this type uses credits of this package. "
                               "Only active packages can be linked."),
    )

    class Meta:
        model = AppointmentType
        fields = ["name", "duration_minutes", "colour", "price", "package", "credits",
                  "is_active"]
        labels = {"is_active": gettext_lazy("Active")}
        help_texts = {
            "credits": gettext_lazy("We advise one credit per appointment."),
            "is_active": gettext_lazy("An archived type can no longer be booked."),
        }
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_linked(self, "package")
        if self.instance.pk is None and self.initial.get("credits") is None:
            self.initial["credits"] = 1  # the article's advice

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "package" in self.errors or "credits" in self.errors:
            return data
        if data.get("package") is None:
            data["credits"] = None  # credits only count with a package
        elif data.get("credits") is None:
            data["credits"] = 1
        return data


@transaction.atomic
def save_appointment_type(form: forms.ModelForm[Any], *, by: Any) -> AppointmentType:
    """Audited save; the package it links is re-checked under a lock in this transaction."""
    lock_for_linking(form.cleaned_data.get("package"), linked_pk=form.initial.get("package"))
    saved = services.save_form(form, by=by)
    assert isinstance(saved, AppointmentType)
    return saved


class AppointmentTypeCrud(Crud):
    model = AppointmentType
    form_class = AppointmentTypeForm
    name = "appointment-types"
    nav = "standard"
    columns = [
        Column("name", gettext_lazy("Name"), link=True),
        Column("duration_minutes", gettext_lazy("Duration"), numeric=True,
               template="crud/cells/minutes.html"),
        Column("colour", gettext_lazy("Colour"), template="crud/cells/colour.html"),
        Column("price", gettext_lazy("Price per visit"), numeric=True),
        Column("package", gettext_lazy("Package")),
        Column("credits", gettext_lazy("Credits per appointment"), numeric=True),
        Column("is_active", gettext_lazy("Status"), template="crud/cells/status.html"),
    ]
    search_fields = ("name", "package__name")
    ordering = ("-is_active", "name", "pk")
    select_related = ("package",)
    paginate_by = 50
    title = gettext_lazy("Standard appointments")
    add_label = gettext_lazy("+ Add appointment type")
    empty_text = gettext_lazy("No standard appointments yet. Create one with + Add "
                              "appointment type.")
    archive_field = "is_active"
    archive_text = gettext_lazy("It can no longer be booked; appointments already made keep "
                                "it.")

    def save(self, form: Any, *, by: Any) -> AppointmentType:
        return save_appointment_type(form, by=by)
