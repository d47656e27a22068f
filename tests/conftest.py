from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import translation

from core.roles import Role

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # live_server + Playwright

PASSWORD = "flux-test-password"  # noqa: S105


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    # A request through LocaleMiddleware leaves its language active in the thread; each
    # test starts in the practice's default language, whatever ran before it.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_hasher(settings):  # type: ignore[no-untyped-def]
    # Argon2 is pinned for production by test_deploy; tests need speed.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username: str, role: str | None, **extra: str) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, first_name=username.title(), **extra
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("beheerder", Role.ADMIN)


@pytest.fixture
def receptionist(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("receptie", Role.RECEPTIONIST)


@pytest.fixture
def practitioner(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("fysio", Role.PRACTITIONER)


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin: User) -> Client:
    return client_for(admin)


@pytest.fixture
def receptionist_client(receptionist: User) -> Client:
    return client_for(receptionist)


@pytest.fixture
def practitioner_client(practitioner: User) -> Client:
    return client_for(practitioner)


from .celery_worker import celery_worker, pdf_worker, quiet_broker  # noqa: E402, F401
