from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from core.dates import SHORT_DATE, SHORT_DATETIME
from core.money import format_amount
from core.roles import Role

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return format_amount(value)


@register.filter(expects_localtime=True)  # datetimes in the practice's time zone
def cell(value: Any) -> Any:
    """Show a table cell value the way the UI formats that kind of value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, Money | Decimal):
        return format_amount(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, SHORT_DATETIME)
    if isinstance(value, datetime.date):
        return formats.date_format(value, SHORT_DATE)
    return value


@register.filter
def role_label(name: str) -> str:
    try:
        return str(Role(name).label)
    except ValueError:
        return name


@register.filter
def item(mapping: Any, key: str) -> Any:
    """{{ hints|item:field.name }}: a dict entry, or "" when there is none."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.simple_tag
def crud_url(crud: Any, action: str, obj: Any = None) -> str:
    return str(crud.url(action, obj))


@register.simple_tag
def crud_link(crud: Any, obj: Any) -> str:
    return str(crud.link_url(obj))
