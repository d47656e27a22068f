"""Every /settings/ URL, found through the URL resolver, answers by role — so a screen
added later is covered without anyone remembering to add it here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from core.models import Practice

from .conftest import client_for, make_user


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        else:
            yield route, entry


def settings_routes() -> list[tuple[str, URLPattern]]:
    return [(r, p) for r, p in walk(get_resolver().url_patterns) if r.startswith("settings/")]


def view_model(pattern: URLPattern) -> type[models.Model] | None:
    view_class = getattr(pattern.callback, "view_class", None)
    initkwargs = getattr(pattern.callback, "view_initkwargs", {})
    crud = initkwargs.get("crud")
    if crud is not None:
        return crud.model  # type: ignore[no-any-return]
    return getattr(view_class, "model", None)


def fill(route: str, pattern: URLPattern) -> str:
    """Turn a route into a URL, with parameters taken from one object per model."""
    url = "/" + route
    for name, converter in pattern.pattern.converters.items():
        placeholder = f"<{type(converter).__name__.replace('Converter', '').lower()}:{name}>"
        url = url.replace(placeholder, "{" + name + "}").replace(f"<{name}>", "{" + name + "}")
    model = view_model(pattern)
    values: dict[str, Any] = {}
    if "label" in pattern.pattern.converters:
        values["label"] = "core.practice"
        values["pk"] = Practice.get().pk
    elif "pk" in pattern.pattern.converters:
        assert model is not None, f"{route}: cannot tell which object <pk> names"
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"{route}: make one {model.__name__} in seed_one_of_each()"
        values["pk"] = obj.pk
    return url.format(**values)


def seed_one_of_each() -> None:
    """One object of each model a settings URL can name. Later screens extend this."""
    Practice.get()
    from tests import factories

    for factory in factories.ALL:
        factory()


def post_only(pattern: URLPattern) -> bool:
    view_class = getattr(pattern.callback, "view_class", None)
    methods = getattr(view_class, "http_method_names", [])
    return view_class is not None and "get" not in methods


@pytest.mark.django_db
def test_every_settings_url_answers_by_role(
    admin: User, receptionist: User, practitioner: User
) -> None:
    seed_one_of_each()
    no_role = make_user("zonderrol", None)
    routes = settings_routes()
    assert len(routes) >= 8  # the resolver really was walked
    clients = {
        "admin": client_for(admin),
        "receptionist": client_for(receptionist),
        "practitioner": client_for(practitioner),
        "no role": client_for(no_role),
        "anonymous": Client(),
    }
    failures = []
    for route, pattern in routes:
        url = fill(route, pattern)
        method = "post" if post_only(pattern) else "get"
        answers = {who: getattr(c, method)(url) for who, c in clients.items()}
        expected_admin = (200, 302) if method == "post" else (200,)
        if answers["admin"].status_code not in expected_admin:
            failures.append(f"{url}: admin got {answers['admin'].status_code}")
        for who in ("receptionist", "practitioner", "no role"):
            if answers[who].status_code != 403:
                failures.append(f"{url}: {who} got {answers[who].status_code}")
        anon = answers["anonymous"]
        if anon.status_code != 302 or not anon["Location"].startswith("/login/"):
            failures.append(f"{url}: anonymous got {anon.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_user_without_role_sees_polite_page() -> None:
    client = client_for(make_user("nieuw", None))
    response = client.get("/calendar/")
    assert response.status_code == 403
    assert "role" in response.content.decode().lower() or "rol" in response.content.decode()


@pytest.mark.django_db
def test_main_menu_reaches_every_role(receptionist: User, practitioner: User) -> None:
    for user in (receptionist, practitioner):
        client = client_for(user)
        for url in ("/calendar/", "/patients/"):
            assert client.get(url).status_code == 200, (user, url)
        body = client.get("/calendar/").content.decode()
        assert 'href="/settings/"' not in body  # no gear for those who may not enter
    # Invoices are for the front desk only: practitioners neither see nor open them.
    assert client_for(receptionist).get("/invoices/").status_code == 200
    assert client_for(practitioner).get("/invoices/").status_code == 403
    assert 'href="/invoices/"' not in client_for(practitioner).get("/calendar/").content.decode()


def test_apps_loaded() -> None:
    assert apps.is_installed("core")
