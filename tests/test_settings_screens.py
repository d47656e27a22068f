"""What every settings screen of the article must do: refuse bad input with a clear error and
change nothing, show user text escaped, list 50 fully linked rows with as many SQL queries as
1, and refuse the second of two administrators saving the same object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections, models
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.money import eur
from invoicing.models import Account, Product
from packages.models import Package
from scheduling.models import AppointmentType

from . import factories
from .conftest import client_for

LONG = "x" * 500
SCRIPT = '<script>alert("x")</script>'


@dataclass
class Screen:
    url: str
    model: type[models.Model]
    data: Callable[[], dict[str, Any]]  # valid POST data for a new object
    name_field: str
    linked: Callable[[int], Any]  # one fully linked object, numbered
    edit_change: dict[str, str]  # turns valid data into a visible edit


def package_data() -> dict[str, Any]:
    return {"name": "Dieet 5×", "internal_rate": "45", "free_cancel_hours": "24",
            "late_cancel_outcome": "forfeit", "no_show_outcome": "forfeit",
            "validity_unit": "none", "validity_count": "",
            "ledger_account": factories.account(kind=Account.Kind.REVENUE).pk,
            "balance_sheet_item": factories.account(kind=Account.Kind.BALANCE_SHEET).pk}


def product_data() -> dict[str, Any]:
    return {"code": "DIE5", "name": "Dieet 5×", "price": "300", "vat_treatment": "exempt",
            "package": factories.package().pk, "credits_per_unit": "5", "is_active": "on",
            "revenue_account": ""}


def type_data() -> dict[str, Any]:
    return {"name": "Dieetconsult", "duration_minutes": "30", "colour": "#1f6f8b",
            "price": "60", "package": factories.package().pk, "credits": "1", "is_active": "on"}


def account_data() -> dict[str, Any]:
    return {"code": "8030", "name": "Omzet diëtetiek", "kind": "revenue", "is_active": "on"}


def linked_product(n: int) -> Product:
    return factories.product(f"P{n:03}", revenue_account=factories.account())


SCREENS = {
    "packages": Screen("/settings/invoices/packages/", Package, package_data, "name",
                       lambda n: factories.sellable_package(f"Pakket {n:03}"),
                       {"internal_rate": "50"}),
    "products": Screen("/settings/invoices/products/", Product, product_data, "name",
                       linked_product, {"price": "350"}),
    "appointment types": Screen("/settings/appointments/standard/", AppointmentType,
                                type_data, "name",
                                lambda n: factories.appointment_type(f"Type {n:03}"),
                                {"duration_minutes": "45"}),
    "accounts": Screen("/settings/invoices/accounts/", Account, account_data, "name",
                       lambda n: factories.account(f"{1000 + n}"), {"name": "Omzet dieet"}),
}

# (screen, field, value, what the English error says)
BAD_INPUT = [
    ("packages", "name", "", "This field is required."),
    ("packages", "internal_rate", "", "This field is required."),
    ("packages", "internal_rate", "-1", "cannot be negative"),
    ("packages", "internal_rate", "1000000.01", "at most €1,000,000.00"),
    ("packages", "internal_rate", "9999999999", "at most €1,000,000.00"),
    ("packages", "internal_rate", "veel", "Enter an amount in euros"),
    ("packages", "internal_rate", "12.345", "at most two decimals"),
    ("packages", "name", LONG, "at most 100 characters (it has 500)"),
    ("packages", "free_cancel_hours", "-5", "greater than or equal to 0"),
    ("packages", "free_cancel_hours", "100000", "less than or equal to 336"),
    ("products", "code", "", "This field is required."),
    ("products", "name", "", "This field is required."),
    ("products", "price", "", "This field is required."),
    ("products", "price", "-0.01", "cannot be negative"),
    ("products", "price", "2000000", "at most €1,000,000.00"),
    ("products", "credits_per_unit", "tien", "Enter a whole number."),
    ("products", "credits_per_unit", "0", "greater than or equal to 1"),
    ("products", "credits_per_unit", "", "needs its number of credits"),
    ("products", "credits_per_unit", "2.5", "Enter a whole number."),
    ("products", "name", LONG, "at most 120 characters (it has 500)"),
    ("products", "vat_treatment", "15", "Select a valid choice."),
    ("appointment types", "name", "", "This field is required."),
    ("appointment types", "duration_minutes", "", "This field is required."),
    ("appointment types", "duration_minutes", "0", "greater than or equal to 5"),
    ("appointment types", "price", "-10", "cannot be negative"),
    ("appointment types", "price", "1000001", "at most €1,000,000.00"),
    ("appointment types", "credits", "een", "Enter a whole number."),
    ("appointment types", "credits", "0", "greater than or equal to 1"),
    ("appointment types", "name", LONG, "at most 100 characters (it has 500)"),
    ("appointment types", "colour", "red", "Use a colour like #1f6f8b."),
    ("accounts", "code", "", "This field is required."),
    ("accounts", "kind", "", "This field is required."),
    ("accounts", "name", LONG, "at most 120 characters (it has 500)"),
]


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("screen", "field", "value", "message"), BAD_INPUT,
                         ids=[f"{s}-{f}-{v[:12]!r}" for s, f, v, _m in BAD_INPUT])
def test_bad_input_is_refused_clearly_and_changes_nothing(
    admin_client: Client, screen: str, field: str, value: str, message: str
) -> None:
    config = SCREENS[screen]
    english(admin_client)
    data = config.data() | {field: value}
    before = config.model._default_manager.count()
    response = admin_client.post(f"{config.url}add/", data)
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors, response.context["form"].errors
    body = response.content.decode()
    assert "Please correct the following:" in body  # summarised at the top too
    assert config.model._default_manager.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("screen", SCREENS)
def test_a_bad_edit_changes_nothing(admin_client: Client, screen: str) -> None:
    config = SCREENS[screen]
    obj = config.linked(1)
    before = config.model._default_manager.values().get(pk=obj.pk)
    url = f"{config.url}{obj.pk}/"
    seen = admin_client.get(url).context["form"].initial["_fingerprint"]
    response = admin_client.post(url, {config.name_field: LONG, "_fingerprint": seen})
    assert response.status_code == 422
    assert config.model._default_manager.values().get(pk=obj.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("screen", SCREENS)
def test_html_in_a_name_is_shown_escaped_everywhere(admin_client: Client, screen: str) -> None:
    config = SCREENS[screen]
    saved = admin_client.post(f"{config.url}add/", config.data() | {config.name_field: SCRIPT},
                              follow=True)
    obj = config.model._default_manager.get(**{f"{config.name_field}__contains": "<script>"})
    pages = {
        "message and list": saved.content.decode(),
        "form": admin_client.get(f"{config.url}{obj.pk}/").content.decode(),
        "delete": admin_client.get(f"{config.url}{obj.pk}/delete/").content.decode(),
        "search": admin_client.get(config.url, {"q": "script"},
                                   headers={"HX-Request": "true"}).content.decode(),
    }
    for where, body in pages.items():
        assert SCRIPT not in body, where
        assert "&lt;script&gt;" in body, where


@pytest.mark.django_db
def test_a_package_name_with_html_is_escaped_where_others_show_it(admin_client: Client) -> None:
    package = factories.package(SCRIPT)
    factories.product("FYS10", package_=package)
    factories.appointment_type("Behandeling", package_=package)
    for url in ("/settings/invoices/products/", "/settings/invoices/products/add/",
                "/settings/appointments/standard/", "/settings/appointments/standard/add/",
                "/settings/invoices/packages/"):
        body = admin_client.get(url).content.decode()
        assert SCRIPT not in body and "&lt;script&gt;" in body, url


def list_queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("screen", SCREENS)
def test_a_page_of_50_linked_rows_costs_the_same_queries_as_1(
    admin_client: Client, django_assert_num_queries: Any, screen: str
) -> None:
    config = SCREENS[screen]
    config.linked(0)
    admin_client.get(config.url)  # warm the session and the practice row
    one, body = list_queries(admin_client, config.url)
    assert body.count('title="Bewerken"') == 1
    for n in range(1, 60):
        config.linked(n)
    with django_assert_num_queries(one):
        response = admin_client.get(config.url)
    body = response.content.decode()
    assert body.count('title="Bewerken"') == 50  # a full page, the rest on page 2
    assert "Pagina 1 van 2" in body


@pytest.mark.django_db
def test_query_count_is_pinned_for_the_package_list(admin_client: Client) -> None:
    """The absolute number, so a new query per page is noticed: session, user, roles,
    practice, the latest ledger check (administrators' notice), count, rows (with
    sellability as subqueries)."""
    factories.sellable_package("Fysio 10×")
    admin_client.get("/settings/invoices/packages/")
    count, _body = list_queries(admin_client, "/settings/invoices/packages/")
    assert count == 7


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in real threads, released at the same moment."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = job()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_administrators_saving_the_same_package_at_once(admin: Any) -> None:
    other = factories.user("tweede", role="administrator")
    package = factories.package("Fysio 10×", internal_rate=eur("120"))
    url = f"/settings/invoices/packages/{package.pk}/"
    clients = [english(client_for(admin)), english(client_for(other))]
    seen = [c.get(url).context["form"].initial["_fingerprint"] for c in clients]
    base = {"name": "Fysio 10×", "free_cancel_hours": "24", "late_cancel_outcome": "forfeit",
            "no_show_outcome": "forfeit", "validity_unit": "none", "is_active": "on",
            "ledger_account": package.ledger_account_id,
            "balance_sheet_item": package.balance_sheet_item_id}
    responses = run_together(
        lambda: clients[0].post(url, base | {"internal_rate": "121", "_fingerprint": seen[0]}),
        lambda: clients[1].post(url, base | {"internal_rate": "122", "_fingerprint": seen[1]}),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [302, 422]
    loser = next(r for r in responses if r.status_code == 422)
    assert "Someone else changed this package" in loser.content.decode()
    package.refresh_from_db()
    winner = responses.index(next(r for r in responses if r.status_code == 302))
    assert package.internal_rate == eur(["121", "122"][winner])


@pytest.mark.django_db(transaction=True)
def test_two_administrators_creating_the_same_name_at_once(admin: Any) -> None:
    other = factories.user("tweede", role="administrator")
    clients = [english(client_for(admin)), english(client_for(other))]
    data = {"name": "Fysio 10×", "internal_rate": "120", "free_cancel_hours": "24",
            "late_cancel_outcome": "forfeit", "no_show_outcome": "forfeit",
            "validity_unit": "none"}
    url = "/settings/invoices/packages/add/"
    responses = run_together(*(lambda c=c: c.post(url, data) for c in clients))
    assert sorted(r.status_code for r in responses) == [302, 422]
    loser = next(r for r in responses if r.status_code == 422)
    assert "An active package named ‘Fysio 10×’ already exists" in loser.content.decode()
    assert Package.objects.filter(name="Fysio 10×").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("screen", ["products", "appointment types"])
def test_a_package_archived_while_the_form_is_open_is_refused_on_submit(
    admin: Any, admin_client: Client, screen: str
) -> None:
    from core.services import delete_or_archive

    config = SCREENS[screen]
    english(admin_client)
    data = config.data()
    package = Package.objects.get(pk=data["package"])
    factories.product(package_=package)  # in use, so deleting it archives it
    before = config.model._default_manager.count()
    form = admin_client.get(f"{config.url}add/").context["form"]
    assert package in form.fields["package"].queryset
    delete_or_archive(package, by=admin)  # another administrator, meanwhile
    response = admin_client.post(f"{config.url}add/", data)
    assert response.status_code == 422
    assert "has been archived and can no longer be linked" in " ".join(
        response.context["form"].errors["package"])
    assert config.model._default_manager.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "dutch", "english_words"),
    [
        ("/settings/invoices/packages/", ["Pakketten", "+ Pakket toevoegen", "Intern tarief"],
         ["Packages", "+ Add package", "Internal rate"]),
        ("/settings/invoices/products/", ["Producten", "+ Product toevoegen", "Aantal credits"],
         ["Products", "+ Add product", "Number of credits"]),
        ("/settings/invoices/accounts/", ["Rekeningschema", "+ Rekening toevoegen", "Soort"],
         ["Chart of accounts", "+ Add account", "Kind"]),
        ("/settings/appointments/standard/",
         ["Standaard afspraken", "+ Afspraaktype toevoegen", "Duur"],
         ["Standard appointments", "+ Add appointment type", "Duration"]),
    ],
)
def test_labels_in_dutch_and_english(
    admin_client: Client, url: str, dutch: list[str], english_words: list[str]
) -> None:
    factories.sellable_package("Fysio 10×")
    body = admin_client.get(url).content.decode()
    assert all(word in body for word in dutch), url
    body = english(admin_client).get(url).content.decode()
    assert all(word in body for word in english_words), url
