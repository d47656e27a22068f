from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from core.roles import Role, roles_of

from . import ledger


def ledger_notice(request: HttpRequest) -> dict[str, Any]:
    """Administrators see the latest ledger check while it found differences."""
    if Role.ADMIN not in roles_of(request.user):
        return {}

    def failed_check() -> Any:
        check = ledger.latest_check()
        return check if check is not None and not check.ok else None

    return {"ledger_notice": SimpleLazyObject(failed_check)}
