"""The only write path for patients."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core import services

from .forms import PatientForm
from .models import Patient


@transaction.atomic
def save_patient(form: PatientForm, *, by: Any) -> Patient:
    """Create or change a patient from the patient form, audited, refusing a stale edit."""
    patient = services.save_form(form, by=by)
    assert isinstance(patient, Patient)
    return patient
