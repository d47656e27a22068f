from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from core.audit import history
from core.demo import DEMO_PASSWORD, load_demo
from core.models import AuditEntry, Practice
from core.roles import Role, roles_of


def state() -> dict[str, object]:
    return {
        "users": sorted(User.objects.values_list("username", "password", "first_name")),
        "practice": Practice.objects.values().get(pk=1),
        "audit": AuditEntry.objects.count(),
    }


@pytest.mark.django_db
def test_demo_loads_once_and_twice_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_demo")
    first = state()
    call_command("load_demo")
    assert state() == first
    assert "nothing changed" in capsys.readouterr().out
    assert load_demo() == []


@pytest.mark.django_db
def test_demo_users_log_in_with_their_roles() -> None:
    load_demo()
    expected = {"admin": Role.ADMIN, "balie": Role.RECEPTIONIST, "therapeut": Role.PRACTITIONER}
    for username, role in expected.items():
        assert Client().login(username=username, password=DEMO_PASSWORD)
        assert roles_of(User.objects.get(username=username)) == {role}
    assert not history(Practice.get()).exists()
