from __future__ import annotations

import pytest
from django.test import Client

from core.audit import history
from core.models import Practice

URL = "/settings/practice/"


def practice_data(**changes: str) -> dict[str, str]:
    data = {
        "name": "Fysio Oost", "street": "Oosterstraat 1", "postal_code": "1234 AB",
        "city": "Amsterdam", "email": "", "phone": "", "kvk_number": "12345678",
        "vat_id": "", "iban": "NL91 ABNA 0417 1643 00", "invoice_prefix": "",
        "payment_term_days": "14", "reminder_hours": "24", "expiry_warning_days": "14",
    }
    return data | changes


def fingerprint(client: Client) -> str:
    return str(client.get(URL).context["form"].initial["_fingerprint"])


@pytest.mark.django_db
def test_practice_saves_and_is_audited(admin_client: Client) -> None:
    data = practice_data(_fingerprint=fingerprint(admin_client))
    response = admin_client.post(URL, data)
    assert response.status_code == 302
    practice = Practice.get()
    assert practice.name == "Fysio Oost"
    assert practice.iban == "NL91ABNA0417164300"  # stored compact
    entry = history(practice).first()
    assert entry is not None and entry.changes["name"][1] == "Fysio Oost"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iban", "NL91 ABNA 0417 1643 01", "not a valid IBAN"),
        ("iban", "hello", "not a valid IBAN"),
        ("vat_id", "NL123456789B02", "not a valid VAT id"),
        ("kvk_number", "1234", "exactly 8 digits"),
        ("payment_term_days", "0", ""),
        ("name", "", ""),
    ],
)
def test_bad_identifiers_are_refused_with_a_clear_error(
    admin_client: Client, field: str, value: str, message: str
) -> None:
    admin_client.post("/i18n/setlang/", {"language": "en"})
    before = Practice.get().name
    response = admin_client.post(URL, practice_data(**{field: value}))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert Practice.get().name == before  # nothing saved


@pytest.mark.django_db
def test_valid_vat_id_is_accepted(admin_client: Client) -> None:
    data = practice_data(vat_id="NL000099998B57", _fingerprint=fingerprint(admin_client))
    assert admin_client.post(URL, data).status_code == 302
    assert Practice.get().vat_id == "NL000099998B57"


@pytest.mark.django_db
def test_concurrent_edit_is_refused(admin_client: Client) -> None:
    seen = fingerprint(admin_client)
    first = practice_data(name="Eerste", _fingerprint=seen)
    assert admin_client.post(URL, first).status_code == 302
    response = admin_client.post(URL, practice_data(name="Tweede", _fingerprint=seen))
    assert response.status_code == 422
    assert Practice.get().name == "Eerste"
    assert "Tweede" in response.content.decode()  # the user's input is still in the form


@pytest.mark.django_db
def test_history_page_shows_changes(admin_client: Client) -> None:
    data = practice_data(name="Met Historie", _fingerprint=fingerprint(admin_client))
    admin_client.post(URL, data)
    response = admin_client.get("/settings/history/core.practice/1/")
    assert response.status_code == 200
    assert "Met Historie" in response.content.decode()


@pytest.mark.django_db
def test_escaped_name(admin_client: Client) -> None:
    data = practice_data(name="<script>alert(1)</script>", _fingerprint=fingerprint(admin_client))
    admin_client.post(URL, data)
    body = admin_client.get("/settings/users/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (31, 111, 139)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db
def test_logo_upload_is_served(admin_client: Client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    logo = SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png")
    data = practice_data(_fingerprint=fingerprint(admin_client)) | {"logo": logo}
    assert admin_client.post(URL, data).status_code == 302
    response = Client().get("/practice/logo/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


@pytest.mark.django_db
def test_logo_must_be_an_image(admin_client: Client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    fake = SimpleUploadedFile("logo.png", b"<script>alert(1)</script>", content_type="image/png")
    response = admin_client.post(URL, practice_data() | {"logo": fake})
    assert response.status_code == 422
    assert "logo" in response.context["form"].errors
