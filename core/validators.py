"""Validators for Dutch business identifiers, backed by python-stdnum."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import iban
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError


def validate_iban(value: str) -> None:
    try:
        iban.validate(value)
    except StdnumError:
        raise ValidationError(
            _("%(value)s is not a valid IBAN: check the country code, length and check digits."),
            params={"value": value},
        ) from None


def validate_vat_id(value: str) -> None:
    try:
        vat.validate(value)
    except StdnumError:
        raise ValidationError(
            _("%(value)s is not a valid VAT id (for example NL000099998B57)."),
            params={"value": value},
        ) from None


def validate_kvk(value: str) -> None:
    if not (value.isdigit() and len(value) == 8):
        raise ValidationError(_("A KvK number has exactly 8 digits."))
