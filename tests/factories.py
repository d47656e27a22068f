"""Factories for tests; `ALL` makes one object of each model a settings URL can name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User

from core.roles import Role


def user(username: str = "medewerker", role: str = Role.RECEPTIONIST, **extra: Any) -> User:
    obj, _created = User.objects.get_or_create(
        username=username, defaults={"first_name": "Mede", "last_name": "Werker"} | extra
    )
    obj.groups.set([Group.objects.get(name=role)])
    return obj


ALL: list[Callable[[], Any]] = [user]
