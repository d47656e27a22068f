"""Generic write paths for the settings screens: save and delete with audit and
optimistic concurrency. Domain apps add their own services and call these."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models, transaction
from django.utils.translation import gettext as _

from . import audit
from .models import AuditEntry


class ConcurrentEditError(Exception):
    """The object changed since the form was opened."""


class ObjectInUseError(Exception):
    """The object is referred to and cannot be deleted."""


def audited_fields(form: forms.ModelForm[Any]) -> list[str]:
    hidden = getattr(form, "audit_exclude", ())
    return [name for name in form.fields if not name.startswith("_") and name not in hidden]


def form_snapshot(form: forms.ModelForm[Any], instance: models.Model) -> dict[str, str]:
    """What the form shows of the instance; a form may supply `audit_<field>(instance)`."""
    values = {}
    for name in audited_fields(form):
        getter = getattr(form, f"audit_{name}", None)
        values[name] = audit.display_value(
            getter(instance) if getter else getattr(instance, name, None)
        )
    return values


def lock_current(form: forms.ModelForm[Any]) -> tuple[models.Model | None, dict[str, str]]:
    """Lock the stored row behind the form and check it is the one the user saw."""
    instance = form.instance
    if instance.pk is None or instance._state.adding:
        return None, {}
    current = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
    old = form_snapshot(form, current)
    seen = form.cleaned_data.get("_fingerprint")
    if seen and seen != audit.fingerprint(old):
        raise ConcurrentEditError(
            _(
                "Someone else changed this %(object)s after you opened the form. "
                "Your changes are still in the form: reload the page to see theirs, "
                "then make your changes again."
            )
            % {"object": type(instance)._meta.verbose_name}
        )
    return current, old


@transaction.atomic
def save_form(form: forms.ModelForm[Any], *, by: Any) -> models.Model:
    current, old = lock_current(form)
    creating = current is None
    obj = form.save()
    after = getattr(form, "after_save", None)
    if after:
        after(obj)
    changes = audit.diff(old, form_snapshot(form, obj))
    if creating or changes:
        action = AuditEntry.Action.CREATE if creating else AuditEntry.Action.UPDATE
        audit.record(obj, action, changes, by=by)
    return obj


@transaction.atomic
def delete_object(obj: models.Model, *, by: Any) -> None:
    locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    try:
        with transaction.atomic():
            audit.record(locked, AuditEntry.Action.DELETE, {}, by=by)
            locked.delete()
    except models.ProtectedError as exc:
        raise ObjectInUseError(
            _("%(object)s is still in use and cannot be deleted.") % {"object": locked}
        ) from exc



@transaction.atomic
def deactivate_user(user: Any, *, by: Any) -> None:
    if user.pk == getattr(by, "pk", None):
        raise ObjectInUseError(_("You cannot deactivate your own account."))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit.record(user, AuditEntry.Action.DEACTIVATE, {"is_active": ["True", "False"]}, by=by)
