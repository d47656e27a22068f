"""Form fields the settings screens share: euro amounts typed the local way, and choices of
objects that can be archived."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from .money import eur, format_amount, parse_amount, to_cents

MAX_AMOUNT = Decimal(1_000_000)


class EuroInput(forms.TextInput):
    """Shows 1200,00 in Dutch and 1200.00 in English, without grouping, ready to edit."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "class": "amount"}
                         | (attrs or {}))

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Money):
            value = value.amount
        if isinstance(value, Decimal):
            text = f"{to_cents(value):.2f}"
            dutch = (translation.get_language() or "nl").startswith("nl")
            return text.replace(".", ",") if dutch else text
        return super().format_value(value)


class EuroField(forms.Field):
    """An amount in euros (Money), at least € 0,00 and at most € 1.000.000,00."""

    widget = EuroInput
    default_error_messages = {
        "invalid": _("Enter an amount in euros, such as 1200 or 1.200,00."),
        "negative": _("The amount cannot be negative."),
        "too_large": _("The amount can be at most %(max)s."),
        "cents": _("Use at most two decimals (cents)."),
    }

    def __init__(self, *, max_amount: Decimal = MAX_AMOUNT, **kwargs: Any) -> None:
        self.max_amount = max_amount
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Money | None:
        if isinstance(value, Money):
            return value
        if value in self.empty_values:
            return None
        try:
            amount = parse_amount(str(value))
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if amount < 0:
            raise ValidationError(self.error_messages["negative"], code="negative")
        if amount > self.max_amount:
            raise ValidationError(
                self.error_messages["too_large"], code="too_large",
                params={"max": format_amount(self.max_amount)},
            )
        if amount != to_cents(amount):
            raise ValidationError(self.error_messages["cents"], code="cents")
        return eur(amount)


def keep_linked(form: forms.ModelForm[Any], *names: str) -> None:
    """Let each named ActiveModelChoiceField keep the object the instance links now."""
    for name in names:
        field = form.fields[name]
        assert isinstance(field, ActiveModelChoiceField)
        field.keep(getattr(form.instance, form.instance._meta.get_field(name).attname))


class ActiveModelChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Offers the active objects of `queryset`, plus the one the form already links (which may
    stay even when archived). An object archived after the form was opened is refused on
    submit with a message that says so."""

    default_error_messages = {
        "invalid_choice": _("That choice no longer exists. Choose another one."),
        "archived": _("‘%(object)s’ has been archived and can no longer be linked."),
    }

    def __init__(self, queryset: QuerySet[Any], **kwargs: Any) -> None:
        self.all_objects = queryset
        self.kept_pk: Any = None
        super().__init__(queryset.filter(is_active=True), **kwargs)

    def keep(self, pk: Any) -> None:
        """Let the currently linked object stay selectable and valid, archived or not."""
        self.kept_pk = pk
        if pk is not None:
            self.queryset = self.all_objects.filter(Q(is_active=True) | Q(pk=pk))

    def label_from_instance(self, obj: Model) -> str:
        if getattr(obj, "is_active", True):
            return str(obj)
        return f"{obj} ({_('archived')})"

    def to_python(self, value: Any) -> Model | None:
        if value in self.empty_values:
            return None
        if isinstance(value, Model):
            value = value.pk
        try:
            obj: Model = self.all_objects.get(pk=value)
        except (ValueError, TypeError, ValidationError, ObjectDoesNotExist):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None
        if not getattr(obj, "is_active", True) and obj.pk != self.kept_pk:
            raise ValidationError(
                self.error_messages["archived"], code="archived", params={"object": obj}
            )
        return obj
