from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import services
from core.crud import ConcurrencyModelForm
from core.fields import ActiveModelChoiceField, EuroField, keep_linked
from core.money import format_amount, per_unit
from packages.models import Package

from .models import Account, Product


class AccountForm(ConcurrencyModelForm):
    class Meta:
        model = Account
        fields = ["code", "name", "kind", "is_active"]
        help_texts = {
            "code": gettext_lazy("The number in your bookkeeping, e.g. 8010."),
            "kind": gettext_lazy("Revenue accounts serve as ledger accounts, balance-sheet "
                                 "accounts as balance-sheet items."),
            "is_active": gettext_lazy("An archived account cannot be chosen anymore; "
                                      "packages and products that use it keep it."),
        }

    def clean_kind(self) -> str:
        kind: str = self.cleaned_data["kind"]
        if self.instance.pk and kind != self.initial.get("kind"):
            found = services.references(self.instance)
            if found:
                raise forms.ValidationError(
                    _("The kind cannot change while %(uses)s use this account.")
                    % {"uses": services.describe_references(found)}
                )
        return kind


class ProductForm(ConcurrencyModelForm):
    price = EuroField(label=gettext_lazy("Price"),
                      help_text=gettext_lazy("What the patient pays per unit, VAT included."))
    revenue_account = ActiveModelChoiceField(
        Account.objects.filter(kind=Account.Kind.REVENUE), required=False,
        label=gettext_lazy("Revenue account"),
        help_text=gettext_lazy("For a product sold without a package. With a package, the "
                               "package's accounts are used."),
    )
    package = ActiveModelChoiceField(
        Package.objects.all(), required=False, label=gettext_lazy("Package"),
        help_text=gettext_lazy("Selling this product gives the patient credits of this "
                               "package. Only active packages can be linked."),
    )

    live_hint_fields = ("credits_per_unit",)

    class Meta:
        model = Product
        fields = ["code", "name", "price", "vat_treatment", "revenue_account", "package",
                  "credits_per_unit", "email_template", "is_active"]
        labels = {"is_active": gettext_lazy("Active")}
        help_texts = {
            "vat_treatment": gettext_lazy("For exempt medical care, invoices print the legal "
                                          "exemption text instead of VAT."),
            "credits_per_unit": gettext_lazy("Credits per unit of the product, required with a "
                                             "package: 10 credits at € 1200 make € 120 per "
                                             "credit."),
            "is_active": gettext_lazy("An archived product is no longer offered for new "
                                      "invoices."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep_linked(self, "package", "revenue_account")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        package, credits = data.get("package"), data.get("credits_per_unit")
        if "credits_per_unit" in self.errors or "package" in self.errors:
            return data
        if package is not None and credits is None:
            self.add_error("credits_per_unit", _(
                "A product with a package needs its number of credits: a whole number of "
                "at least 1."))
        elif package is None and credits is not None:
            self.add_error("credits_per_unit", _(
                "Only a product with a package gives credits. Choose a package, or leave "
                "this empty."))
        return data

    def live_hints(self) -> dict[str, str]:
        price, credits = self.current_value("price"), self.current_value("credits_per_unit")
        if price is None or not credits or credits < 1:
            return {}
        return {"credits_per_unit": _("%(amount)s per credit")
                % {"amount": format_amount(per_unit(price, credits))}}
