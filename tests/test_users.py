from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core.roles import Role, roles_of
from core.views import UserCrud

from . import factories
from .conftest import make_user
from .crud_harness import CrudHarness


class TestUserScreen(CrudHarness):
    crud = UserCrud()
    list_text = "medewerker"
    search_text = "medew"

    def make_object(self) -> User:
        return factories.user()

    def valid_data(self) -> dict[str, Any]:
        return {
            "username": "nieuwe", "first_name": "Nieuwe", "last_name": "Collega",
            "email": "nieuwe@example.org", "role": Role.PRACTITIONER, "is_active": "on",
            "password": "een-lang-wachtwoord-42",
        }

    def edit_data(self, obj: Any) -> dict[str, Any]:
        return {
            "username": obj.username, "first_name": "Andere", "last_name": obj.last_name,
            "email": obj.email, "role": Role.ADMIN, "is_active": "on",
        }


@pytest.mark.django_db
def test_new_user_gets_role_and_can_log_in(admin_client: Client) -> None:
    data = TestUserScreen().valid_data()
    assert admin_client.post("/settings/users/add/", data).status_code == 302
    user = User.objects.get(username="nieuwe")
    assert roles_of(user) == {Role.PRACTITIONER}
    assert Client().login(username="nieuwe", password=data["password"])


@pytest.mark.django_db
def test_role_change_is_audited(admin_client: Client) -> None:
    user = factories.user()
    url = f"/settings/users/{user.pk}/"
    seen = admin_client.get(url).context["form"].initial["_fingerprint"]
    data = TestUserScreen().edit_data(user) | {"_fingerprint": seen}
    admin_client.post(url, data)
    from core.audit import history

    entry = history(user).first()
    assert entry is not None
    assert entry.changes["role"] == [Role.RECEPTIONIST, Role.ADMIN]
    assert "password" not in entry.changes


@pytest.mark.django_db
def test_delete_deactivates_instead(admin_client: Client) -> None:
    user = factories.user()
    response = admin_client.post(f"/settings/users/{user.pk}/delete/")
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not Client().login(username=user.username, password="x")


@pytest.mark.django_db
def test_cannot_deactivate_yourself(admin: User, admin_client: Client) -> None:
    response = admin_client.post(f"/settings/users/{admin.pk}/delete/", follow=True)
    admin.refresh_from_db()
    assert admin.is_active
    assert response.status_code == 200


@pytest.mark.django_db
def test_new_user_needs_password(admin_client: Client) -> None:
    data = TestUserScreen().valid_data() | {"password": ""}
    response = admin_client.post("/settings/users/add/", data)
    assert response.status_code == 422
    assert "password" in response.context["form"].errors


@pytest.mark.django_db
def test_login_and_logout() -> None:
    make_user("inlog", Role.RECEPTIONIST)
    client = Client()
    response = client.post("/login/", {"username": "inlog", "password": "flux-test-password"})
    assert response.status_code == 302
    assert client.get("/calendar/").status_code == 200
    client.post("/logout/")
    assert client.get("/calendar/").status_code == 302


@pytest.mark.django_db
def test_page_links_keep_the_search(admin_client: Client) -> None:
    for n in range(30):
        factories.user(f"medew{n:02d}")
    factories.user("iemand-anders")
    first = admin_client.get("/settings/users/", {"q": "medew"}).content.decode()
    assert "?q=medew&amp;page=2" in first
    second = admin_client.get("/settings/users/", {"q": "medew", "page": "2"}).content.decode()
    assert "medew29" in second and "iemand-anders" not in second
