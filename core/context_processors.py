from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .models import Practice
from .navigation import MAIN_MENU, MENU_ROLES, SETTINGS_MENU
from .roles import Role, roles_of


def frame(request: HttpRequest) -> dict[str, Any]:
    roles = roles_of(request.user)
    if not roles:
        return {"user_roles": roles}
    return {
        "user_roles": roles,
        "is_admin": Role.ADMIN in roles,
        "practice_name": Practice.get().name,
        "main_menu": [e for e in MAIN_MENU if roles & set(MENU_ROLES.get(e[0], roles))],
        "settings_menu": SETTINGS_MENU,
    }
