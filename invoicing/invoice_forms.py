"""The product-invoice form: a patient and lines found by product code or name."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patients.models import Patient

from .invoices import LineData
from .models import Product

SEPARATOR = " — "  # between code and name in the product suggestions


def product_label(product: Product) -> str:
    return f"{product.code}{SEPARATOR}{product.name}"


def find_product(text: str) -> Product:
    """An active product by its code, its suggestion label, or a name only it matches."""
    text = text.strip()
    code = text.split(SEPARATOR, 1)[0].strip()
    active = Product.objects.filter(is_active=True).select_related("package")
    found = active.filter(Q(code__iexact=code) | Q(code__iexact=text)).first()
    if found is not None:
        return found
    for matches in (active.filter(name__iexact=text), active.filter(name__icontains=text)):
        hits = list(matches[:2])
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise forms.ValidationError(
                _("Several products match “%(text)s”: type the code."), params={"text": text})
    raise forms.ValidationError(
        _("No product is sold with the code or name “%(text)s”."), params={"text": text})


class InvoiceForm(forms.Form):
    patient = forms.ModelChoiceField(
        label=_("Patient"), queryset=Patient.objects.all(), widget=forms.HiddenInput,
        error_messages={"required": _("Choose a patient.")})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    request_key = forms.UUIDField(required=False, widget=forms.HiddenInput)


class LineForm(forms.Form):
    product = forms.CharField(
        label=_("Product"), max_length=200, required=False,
        widget=forms.TextInput(attrs={"list": "invoice-products", "autocomplete": "off",
                                      "placeholder": _("Code or name")}))
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=999, initial=1,
        widget=forms.NumberInput(attrs={"class": "qty", "inputmode": "numeric"}))
    discount = forms.DecimalField(
        label=_("Discount %"), min_value=Decimal(0), max_value=Decimal(100), decimal_places=2,
        required=False, widget=forms.NumberInput(attrs={"class": "pct", "step": "any"}))

    def clean_product(self) -> Product | None:
        text = self.cleaned_data["product"].strip()
        return find_product(text) if text else None  # a blank row is ignored

    def line(self) -> LineData:
        data = self.cleaned_data
        return LineData(data["product"], data["quantity"], data.get("discount") or Decimal(0))


class BaseLineFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def kept(self) -> list[Any]:
        """Filled-in, valid rows not marked for removal (for the preview too)."""
        return [form for form in self.forms
                if form.is_valid() and form.cleaned_data.get("product")
                and not form.cleaned_data.get("DELETE")]

    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.kept():
            raise forms.ValidationError(_("Add at least one line."))

    def lines(self) -> list[LineData]:
        return [form.line() for form in self.kept()]


LineFormSet = cast(type[BaseLineFormSet], forms.formset_factory(
    LineForm, formset=BaseLineFormSet, extra=0, min_num=1, can_delete=True, max_num=50,
    validate_max=True))


def line_initial(lines: Any) -> list[dict[str, Any]]:
    return [{"product": product_label(li.product), "quantity": li.quantity,
             "discount": li.discount_percent or None} for li in lines]
