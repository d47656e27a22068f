from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from stdnum import iban
from stdnum.eu import vat

from .crud import ConcurrencyModelForm
from .models import Practice
from .roles import Role, roles_of


class PracticeForm(ConcurrencyModelForm):
    class Meta:
        model = Practice
        fields = [
            "name", "street", "postal_code", "city", "email", "phone", "kvk_number",
            "vat_id", "iban", "logo", "invoice_prefix", "payment_term_days",
            "reminder_hours", "expiry_warning_days", "credits_available_at_issue",
        ]

    def clean_iban(self) -> str:
        value: str = self.cleaned_data["iban"]
        return iban.compact(value) if value else ""

    def clean_vat_id(self) -> str:
        value: str = self.cleaned_data["vat_id"]
        return vat.compact(value) if value else ""

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo and getattr(logo, "size", 0) > 2 * 1024 * 1024:
            raise forms.ValidationError(_("The logo may be at most 2 MB."))
        return logo


class UserForm(ConcurrencyModelForm):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(render_value=False), required=False,
        help_text=_("Required for a new user. Leave empty to keep the current password."),
        strip=False,
    )

    audit_exclude = ("password",)

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "role", "is_active"]
        labels = {"is_active": _("Active (may log in)")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        if instance is not None and instance.pk:
            kwargs.setdefault("initial", {})["role"] = next(iter(roles_of(instance)), "")
        super().__init__(*args, **kwargs)
        self.fields["first_name"].required = True
        self.fields["role"].required = True

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password", "")
        if not password and self.instance.pk is None:
            raise forms.ValidationError(_("A new user needs a password."))
        if password:
            password_validation.validate_password(password, self.instance)
        return password

    def audit_role(self, user: User) -> str:
        if user.pk is None:
            return ""
        return ", ".join(sorted(user.groups.values_list("name", flat=True)))

    def after_save(self, user: User) -> None:
        """Runs inside the save service's transaction, before the audit diff."""
        from django.contrib.auth.models import Group

        user.groups.set([Group.objects.get(name=self.cleaned_data["role"])])
        password = self.cleaned_data.get("password")
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
