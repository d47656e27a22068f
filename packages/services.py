"""Write paths for packages. The credit ledger has its own (packages.ledger)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import services

from .models import Package


def name_taken(name: str) -> str:
    return _("An active package named ‘%(name)s’ already exists. Choose another name, or "
             "archive that package first.") % {"name": name}


@transaction.atomic
def save_package(form: forms.ModelForm[Any], *, by: Any) -> Package:
    """Save through the generic audited save; the database has the last word on the
    active-name rule when two administrators save the same name at once."""
    try:
        with transaction.atomic():
            package = services.save_form(form, by=by)
    except IntegrityError as exc:
        if "package_active_name_unique" not in str(exc):
            raise
        raise forms.ValidationError({"name": name_taken(form.cleaned_data["name"])}) from exc
    assert isinstance(package, Package)
    return package


def lock_for_linking(package: Package | None, *, linked_pk: Any) -> None:
    """Before a product or appointment type links `package`, lock it and check, inside the
    saving transaction, that it is still active: it may have been archived since the form
    was validated. A link the object already had may stay."""
    if package is None or package.pk == linked_pk:
        return
    current = Package.objects.select_for_update().filter(pk=package.pk).first()
    if current is None or not current.is_active:
        raise forms.ValidationError({"package": _(
            "‘%(package)s’ was archived after you opened this form and can no longer be "
            "linked. Choose another package."
        ) % {"package": package}})
