"""The audit log's one write path: every change made through the screens comes here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models
from djmoney.money import Money

from .models import AuditEntry


def display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):  # str(Money) follows the user's language; the log must not
        return f"{value.currency} {value.amount:.2f}"
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    if isinstance(value, list | tuple | set | models.QuerySet):
        return ", ".join(sorted(display_value(v) for v in value))
    return str(value)


def fingerprint(values: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]


def diff(old: dict[str, str], new: dict[str, str]) -> dict[str, list[str]]:
    return {k: [old.get(k, ""), v] for k, v in new.items() if old.get(k, "") != v}


def record(
    instance: models.Model, action: str, changes: dict[str, list[str]], *, by: Any
) -> AuditEntry:
    meta = instance._meta
    return AuditEntry.objects.create(
        user=by if getattr(by, "pk", None) else None,
        app_label=meta.app_label,
        model=meta.model_name or "",
        object_id=str(instance.pk),
        object_repr=str(instance)[:300],
        action=action,
        changes=changes,
    )


def history(instance: models.Model) -> models.QuerySet[AuditEntry]:
    meta = instance._meta
    return AuditEntry.objects.filter(
        app_label=meta.app_label, model=meta.model_name, object_id=str(instance.pk)
    ).select_related("user")
