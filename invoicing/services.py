"""Write paths for the chart of accounts and products."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction

from core import services
from packages.services import lock_for_linking

from .models import Product


@transaction.atomic
def save_product(form: forms.ModelForm[Any], *, by: Any) -> Product:
    """Audited save; the package it links is re-checked under a lock in this transaction."""
    lock_for_linking(form.cleaned_data.get("package"), linked_pk=form.initial.get("package"))
    product = services.save_form(form, by=by)
    assert isinstance(product, Product)
    return product
