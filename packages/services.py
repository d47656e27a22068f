"""Write paths for packages. The credit ledger has its own (packages.ledger)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from djmoney.money import Money

from core import audit, services
from core.models import AuditEntry

from . import ledger
from .ledger_models import CreditLot
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


# ── An administrator's credit actions on the patient page (through the ledger) ──────────

def _audited(patient: Any, what: str, details: dict[str, str], *, by: Any) -> None:
    audit.record(patient, AuditEntry.Action.UPDATE,
                 {what: ["", ", ".join(f"{k}: {v}" for k, v in details.items())]}, by=by)


@transaction.atomic
def import_credits(*, patient: Any, package: Package, credits: int, value_per_credit: Money,
                   expires_on: datetime.date | None, note: str, key: str, by: Any) -> CreditLot:
    """Credits from another system: available at once, valued per credit."""
    done = ledger.existing(key)
    if done is not None:  # the same form submitted twice
        return done.lot
    lot = ledger.grant_lot(patient=patient, package=package, credits=credits,
                           value_total=value_per_credit * credits, source=CreditLot.Source.IMPORT,
                           pending=False, key=key, by=by, reason=note, expires_on=expires_on)
    _audited(patient, "credits imported", {"package": package.name, "credits": str(credits),
                                           "note": note}, by=by)
    return lot


@transaction.atomic
def grant_credits(*, patient: Any, package: Package, credits: int, reason: str, key: str,
                  by: Any) -> CreditLot:
    """Credits given with a reason, valued at the package's internal rate."""
    if not reason.strip():
        raise ledger.LedgerError(_("Granting credits needs a reason."))
    done = ledger.existing(key)
    if done is not None:
        return done.lot
    lot = ledger.grant_lot(patient=patient, package=package, credits=credits,
                           value_total=package.internal_rate * credits,  # type: ignore[arg-type]
                           source=CreditLot.Source.GRANT, pending=False, key=key, by=by,
                           reason=reason)
    _audited(patient, "credits granted", {"package": package.name, "credits": str(credits),
                                          "reason": reason}, by=by)
    return lot


@transaction.atomic
def adjust_credits(lot: CreditLot, change: int, *, reason: str, key: str, by: Any) -> None:
    if ledger.existing(key) is not None:
        return
    ledger.adjust(lot, change, reason=reason, key=key, by=by)
    _audited(lot.balance.patient, "credits adjusted", {
        "lot": str(lot.pk), "change": f"{change:+d}", "reason": reason}, by=by)


@transaction.atomic
def extend_lot(lot: CreditLot, new_expiry: datetime.date | None, *, reason: str, key: str,
               by: Any) -> None:
    if ledger.existing(key) is not None:
        return
    old = lot.expires_on
    ledger.extend(lot, new_expiry, reason=reason, key=key, by=by)
    _audited(lot.balance.patient, "lot expiry extended", {
        "lot": str(lot.pk), "from": str(old), "to": str(new_expiry or "—"), "reason": reason},
        by=by)
