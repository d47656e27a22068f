from __future__ import annotations

from typing import Any

import pytest

from core.demo import DEMO_PASSWORD, load_demo

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_renames_practice_and_sees_it_after_reload(page: Any) -> None:
    load_demo()
    login(page, "admin", DEMO_PASSWORD)
    page.get_by_role("link", name="Instellingen").click()
    page.get_by_role("navigation", name="Instellingen").get_by_role("link", name="Praktijk").click()
    page.get_by_label("Naam").fill("Praktijk Zonnehof")
    page.get_by_role("button", name="Opslaan").click()
    assert page.get_by_text("De praktijkgegevens zijn opgeslagen.").is_visible()
    page.reload()
    assert page.get_by_label("Naam").input_value() == "Praktijk Zonnehof"
    assert page.locator(".topbar .practice").inner_text() == "Praktijk Zonnehof"
    screenshot(page, "practice-renamed")
