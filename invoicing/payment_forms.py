"""Forms of payments, reversals, credit notes and refunds."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import EuroField

from .credit_notes import Creditable
from .payment_models import Method


class DateInput(forms.DateInput):
    input_type = "date"


class PaymentForm(forms.Form):
    amount = EuroField(label=_("Amount"))
    paid_on = forms.DateField(label=_("Date"), widget=DateInput(format="%Y-%m-%d"),
                              initial=timezone.localdate)
    method = forms.ChoiceField(label=_("Method"), choices=Method.choices,
                               initial=Method.BANK_TRANSFER)
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False,
                                help_text=_("E.g. the bank's transaction reference."))
    request_key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_amount(self) -> Any:
        amount = self.cleaned_data["amount"]
        if amount is not None and amount.amount <= 0:
            raise forms.ValidationError(_("A payment must be more than zero."))
        return amount


class RefundForm(PaymentForm):
    request_key = None  # type: ignore[assignment]
    paid_on = None  # type: ignore[assignment]
    refunded_on = forms.DateField(label=_("Date"), widget=DateInput(format="%Y-%m-%d"),
                                  initial=timezone.localdate)
    field_order = ["amount", "refunded_on", "method", "reference"]


class ReversalForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("E.g. a reversal by the bank or a chargeback."))


class CreditNoteForm(forms.Form):
    """One number per invoice line: the credits (package lines) or units to credit."""

    reason = forms.CharField(label=_("Reason"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
    # A double submit carries the same key and finds the note the first one made.
    request_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, rows: list[Creditable], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            line = row.line
            if row.is_package and row.takes_pending:
                label = _("%(line)s: credits to credit") % {"line": line.description}
                help_text = _("%(n)s credits can be credited: %(pending)s awaiting payment "
                              "(these are taken first) and %(available)s available (reserved "
                              "and used credits cannot be credited).") % {
                    "n": row.maximum, "pending": row.pending, "available": row.available}
            elif row.is_package:
                label = _("%(line)s: credits to credit") % {"line": line.description}
                help_text = _("%(n)s credits available to credit (reserved and used credits "
                              "cannot be credited).") % {"n": row.maximum}
            else:
                label = _("%(line)s: quantity to credit") % {"line": line.description}
                help_text = _("%(n)s left to credit.") % {"n": row.maximum}
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=label, min_value=0, max_value=row.maximum, initial=0, required=False,
                help_text=help_text)
        self.order_fields([f"line_{row.line.pk}" for row in rows] + ["reason", "request_key"])

    def counts(self) -> dict[int, int]:
        return {row.line.pk: self.cleaned_data.get(f"line_{row.line.pk}") or 0
                for row in self.rows}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not any(self.counts().values()):
            raise forms.ValidationError(_("Choose at least one line to credit."))
        return data
