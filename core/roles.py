"""The three roles of the practice, as Django groups, and the check every view makes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "administrator", _("Administrator")
    RECEPTIONIST = "receptionist", _("Receptionist")
    PRACTITIONER = "practitioner", _("Practitioner")


STAFF_ROLES = (Role.ADMIN, Role.RECEPTIONIST, Role.PRACTITIONER)
FRONT_DESK = (Role.ADMIN, Role.RECEPTIONIST)

# Model permissions each group holds, by app label; administrators hold all.
ROLE_APP_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.RECEPTIONIST: {},
    Role.PRACTITIONER: {},
}


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_flux_roles", None)
    if cached is None:
        names = user.groups.values_list("name", flat=True)  # type: ignore[union-attr,attr-defined]
        cached = frozenset(n for n in names if n in Role.values)
        user._flux_roles = cached  # type: ignore[union-attr,attr-defined]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def sync_role_groups(**kwargs: Any) -> None:
    """Create the role groups and their permissions; safe to run on every migrate."""
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        if role == Role.ADMIN:
            perms = Permission.objects.all()
        else:
            wanted = ROLE_APP_PERMISSIONS.get(role, {})
            perms = Permission.objects.none()
            for app_label, actions in wanted.items():
                perms = perms | Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__regex=r"^(" + "|".join(actions) + r")_",
                )
        group.permissions.set(perms)


class RoleRequiredMixin(AccessMixin):
    """Anonymous: to the login page. No role at all: a polite page. Wrong role: 403."""

    allowed_roles: tuple[str, ...] = (Role.ADMIN,)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not roles_of(request.user):
            return render(request, "core/no_access.html", status=403)
        if not has_role(request.user, *self.allowed_roles):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class AdminRequiredMixin(RoleRequiredMixin):
    allowed_roles = (Role.ADMIN,)
