from __future__ import annotations

from typing import Any

from django.db.models import Value
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.crud import ConcurrencyModelForm
from core.fields import ActiveModelChoiceField, EuroField, keep_linked
from invoicing.models import Account

from .models import Package, ValidityUnit
from .services import name_taken

MAX_VALIDITY = {ValidityUnit.DAYS: 3660, ValidityUnit.MONTHS: 120}  # ten years


class PackageForm(ConcurrencyModelForm):
    internal_rate = EuroField(
        label=_("Internal rate"),
        help_text=_("The value of one credit in the bookkeeping where no invoice gives one "
                    "(imported and granted credits), and in reports of what was produced."),
    )
    ledger_account = ActiveModelChoiceField(
        Account.objects.filter(kind=Account.Kind.REVENUE), required=False,
        label=_("Ledger account"),
        help_text=_("The revenue account a used credit is booked to. Accounts are kept under "
                    "Chart of accounts."),
    )
    balance_sheet_item = ActiveModelChoiceField(
        Account.objects.filter(kind=Account.Kind.BALANCE_SHEET), required=False,
        label=_("Balance-sheet item"),
        help_text=_("The balance-sheet account that holds prepaid credits until they are used."),
    )

    section_headings = {
        "free_cancel_hours": _("Cancellation policy"),
        "validity_unit": _("Validity"),
    }

    class Meta:
        model = Package
        fields = [
            "name", "internal_rate", "ledger_account", "balance_sheet_item", "is_active",
            "free_cancel_hours", "late_cancel_outcome", "no_show_outcome",
            "validity_unit", "validity_count",
        ]
        labels = {"is_active": _("Active")}
        help_texts = {
            "is_active": _("An archived package cannot be linked to new products or "
                           "appointment types; credits already sold keep working."),
            "free_cancel_hours": _("A patient may cancel free of charge up to this many hours "
                                   "before the appointment."),
            "late_cancel_outcome": _("What happens to the credit when the patient cancels later."),
            "no_show_outcome": _("What happens to the credit when the patient does not come."),
            "validity_count": _("Days or months from the moment the credits become available."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            del self.fields["is_active"]  # saving a new package activates it
        keep_linked(self, "ledger_account", "balance_sheet_item")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        unit, count = data.get("validity_unit"), data.get("validity_count")
        if unit == ValidityUnit.NONE:
            data["validity_count"] = None
        elif unit and "validity_count" not in self.errors:
            if count is None:
                self.add_error("validity_count", _("Give the number of days or months."))
            elif count > MAX_VALIDITY[ValidityUnit(unit)]:
                self.add_error("validity_count", _("A validity of more than ten years is "
                                                   "not possible."))
        name = data.get("name")
        if name and data.get("is_active", True):
            # Lower() on both sides, exactly as the database's unique index compares
            others = Package.objects.alias(lname=Lower("name")).filter(
                lname=Lower(Value(name)), is_active=True
            )
            if others.exclude(pk=self.instance.pk).exists():
                self.add_error("name", name_taken(name))
        return data
