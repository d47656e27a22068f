"""Generic write paths for the settings screens: save and delete with audit and
optimistic concurrency. Domain apps add their own services and call these."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models, transaction
from django.db.models import Q
from django.utils.text import get_text_list
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


def references(obj: models.Model) -> list[tuple[type[models.Model], int]]:
    """Which kinds of rows refer to `obj`, and how many of each. Walks every reverse relation
    the ORM knows (hidden ones too), so relations that later apps add are counted as well."""
    filters: dict[type[models.Model], Q] = {}
    for rel in obj._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and rel.is_relation):
            continue
        related = rel.related_model
        if related is None or isinstance(related, str) or related._meta.auto_created:
            continue  # an automatic many-to-many table is counted through its relation
        field_name = rel.field.name  # type: ignore[union-attr]
        filters[related] = filters.get(related, Q()) | Q(**{field_name: obj})
    found = []
    for related, condition in filters.items():
        count = related._base_manager.filter(condition).count()
        if count:
            found.append((related, count))
    return found


def describe_references(found: list[tuple[type[models.Model], int]]) -> str:
    """E.g. "1 product and 2 standard appointments"."""
    parts = [
        f"{count} {meta.verbose_name if count == 1 else meta.verbose_name_plural}"
        for meta, count in ((model._meta, count) for model, count in found)
    ]
    return str(get_text_list(parts, _("and")))


class DeleteOutcome:
    DELETED = "deleted"
    ARCHIVED = "archived"


@transaction.atomic
def delete_or_archive(
    obj: models.Model, *, field: str = "is_active", by: Any
) -> tuple[str, list[tuple[type[models.Model], int]]]:
    """Delete `obj` when nothing refers to it; otherwise archive it (`field` becomes False).
    The row lock keeps new references out until the decision is committed."""
    locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    found = references(locked)
    if not found:
        audit.record(locked, AuditEntry.Action.DELETE, {}, by=by)
        locked.delete()
        return DeleteOutcome.DELETED, found
    if not getattr(locked, field):
        raise ObjectInUseError(
            _("%(object)s is already archived. It is still used by %(uses)s, so it cannot be "
              "deleted.") % {"object": locked, "uses": describe_references(found)}
        )
    setattr(locked, field, False)
    locked.save(update_fields=[field])
    audit.record(locked, AuditEntry.Action.ARCHIVE, {field: ["True", "False"]}, by=by)
    return DeleteOutcome.ARCHIVED, found


@transaction.atomic
def deactivate_user(user: Any, *, by: Any) -> None:
    if user.pk == getattr(by, "pk", None):
        raise ObjectInUseError(_("You cannot deactivate your own account."))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit.record(user, AuditEntry.Action.DEACTIVATE, {"is_active": ["True", "False"]}, by=by)
