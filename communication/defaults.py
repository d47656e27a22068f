"""The texts every template ships with, and returns to on "Reset to default".

Dutch as a Dutch practice writes to its patients: friendly, formal "u". Every placeholder
used here is in the event's allow-list (a test checks that).
"""

from __future__ import annotations

from .models import Event

SIGNATURE_NL = "Met vriendelijke groet,\n\n{{ practice_name }}\n{{ practice_phone }}"
SIGNATURE_EN = "Kind regards,\n\n{{ practice_name }}\n{{ practice_phone }}"

DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    Event.PRODUCT_INVOICE: {
        "nl": (
            "Factuur {{ invoice_number }} van {{ practice_name }}",
            "Beste {{ patient_first_name }},\n\n"
            "Hartelijk dank voor uw aankoop van **{{ package_name }}**. In de bijlage vindt u "
            "factuur {{ invoice_number }} van {{ invoice_date }}, voor een bedrag van "
            "**{{ invoice_total }}**.\n\n"
            "Wilt u dit bedrag vóór {{ due_date }} overmaken op rekeningnummer {{ iban }} ten "
            "name van {{ practice_name }}, onder vermelding van {{ payment_reference }}?\n\n"
            "Zodra wij uw betaling hebben ontvangen, sturen wij u een bevestiging. Heeft u "
            "vragen over deze factuur? Neem dan gerust contact met ons op.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Invoice {{ invoice_number }} from {{ practice_name }}",
            "Dear {{ patient_first_name }},\n\n"
            "Thank you for purchasing **{{ package_name }}**. Attached you will find invoice "
            "{{ invoice_number }} of {{ invoice_date }}, for an amount of "
            "**{{ invoice_total }}**.\n\n"
            "Please transfer this amount before {{ due_date }} to account {{ iban }} in the "
            "name of {{ practice_name }}, quoting {{ payment_reference }}.\n\n"
            "As soon as we have received your payment, we will send you a confirmation. If you "
            "have any questions about this invoice, please do not hesitate to contact us.\n\n"
            + SIGNATURE_EN,
        ),
    },
    Event.CREDIT_NOTE: {
        "nl": (
            "Creditnota {{ credit_note_number }} van {{ practice_name }}",
            "Beste {{ patient_first_name }},\n\n"
            "In de bijlage vindt u creditnota {{ credit_note_number }} van "
            "{{ credit_note_date }}. Hiermee crediteren wij factuur {{ invoice_number }} voor "
            "een bedrag van **{{ credit_note_total }}**.\n\n"
            "Heeft u al betaald? Dan nemen wij contact met u op over de terugbetaling. Heeft u "
            "vragen? Neem dan gerust contact met ons op.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Credit note {{ credit_note_number }} from {{ practice_name }}",
            "Dear {{ patient_first_name }},\n\n"
            "Attached you will find credit note {{ credit_note_number }} of "
            "{{ credit_note_date }}. It credits invoice {{ invoice_number }} for an amount of "
            "**{{ credit_note_total }}**.\n\n"
            "If you have already paid, we will contact you about the refund. If you have any "
            "questions, please do not hesitate to contact us.\n\n" + SIGNATURE_EN,
        ),
    },
    Event.PAYMENT_RECEIVED: {
        "nl": (
            "Uw betaling is ontvangen",
            "Beste {{ patient_first_name }},\n\n"
            "Wij hebben uw betaling van {{ amount_paid }} voor factuur {{ invoice_number }} "
            "in goede orde ontvangen. Hartelijk dank!\n\n"
            "De credits van **{{ package_name }}** staan nu voor u klaar: u heeft "
            "**{{ credits_available }} credits** beschikbaar. U kunt uw afspraken bij ons "
            "inplannen.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "We have received your payment",
            "Dear {{ patient_first_name }},\n\n"
            "We have received your payment of {{ amount_paid }} for invoice "
            "{{ invoice_number }}. Thank you!\n\n"
            "The credits of **{{ package_name }}** are now ready for you: you have "
            "**{{ credits_available }} credits** available. You can now schedule your "
            "appointments with us.\n\n" + SIGNATURE_EN,
        ),
    },
    Event.APPOINTMENT_CONFIRMATION: {
        "nl": (
            "Bevestiging van uw afspraak op {{ appointment_start }}",
            "Beste {{ patient_first_name }},\n\n"
            "Hierbij bevestigen wij uw afspraak:\n\n"
            "**{{ appointment_start }}**\n"
            "{{ appointment_type }} bij {{ practitioner_name }}\n"
            "{{ practice_address }}\n\n"
            "Na deze afspraak heeft u nog {{ credits_available }} credits beschikbaar in "
            "{{ package_name }}.\n\n"
            "Bent u verhinderd? Laat het ons dan zo snel mogelijk weten.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Confirmation of your appointment on {{ appointment_start }}",
            "Dear {{ patient_first_name }},\n\n"
            "We hereby confirm your appointment:\n\n"
            "**{{ appointment_start }}**\n"
            "{{ appointment_type }} with {{ practitioner_name }}\n"
            "{{ practice_address }}\n\n"
            "After this appointment you have {{ credits_available }} credits left in "
            "{{ package_name }}.\n\n"
            "If you are unable to attend, please let us know as soon as possible.\n\n"
            + SIGNATURE_EN,
        ),
    },
    Event.APPOINTMENT_REMINDER: {
        "nl": (
            "Herinnering: uw afspraak op {{ appointment_start }}",
            "Beste {{ patient_first_name }},\n\n"
            "Graag herinneren wij u aan uw afspraak:\n\n"
            "**{{ appointment_start }}**\n"
            "{{ appointment_type }} bij {{ practitioner_name }}\n"
            "{{ practice_address }}\n\n"
            "In de bijlage vindt u de afspraak om in uw agenda te zetten. Bent u verhinderd? "
            "Laat het ons dan zo snel mogelijk weten.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Reminder: your appointment on {{ appointment_start }}",
            "Dear {{ patient_first_name }},\n\n"
            "This is a reminder of your appointment:\n\n"
            "**{{ appointment_start }}**\n"
            "{{ appointment_type }} with {{ practitioner_name }}\n"
            "{{ practice_address }}\n\n"
            "The attachment adds the appointment to your calendar. If you are unable to "
            "attend, please let us know as soon as possible.\n\n" + SIGNATURE_EN,
        ),
    },
    Event.APPOINTMENT_CANCELLED: {
        "nl": (
            "Uw afspraak op {{ appointment_start }} is geannuleerd",
            "Beste {{ patient_first_name }},\n\n"
            "Uw afspraak op **{{ appointment_start }}** ({{ appointment_type }} bij "
            "{{ practitioner_name }}) is geannuleerd.\n\n"
            "U heeft nu {{ credits_available }} credits beschikbaar in {{ package_name }}. "
            "Wilt u een nieuwe afspraak maken? Neem dan contact met ons op.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Your appointment on {{ appointment_start }} has been cancelled",
            "Dear {{ patient_first_name }},\n\n"
            "Your appointment on **{{ appointment_start }}** ({{ appointment_type }} with "
            "{{ practitioner_name }}) has been cancelled.\n\n"
            "You now have {{ credits_available }} credits available in {{ package_name }}. "
            "Would you like to make a new appointment? Please contact us.\n\n" + SIGNATURE_EN,
        ),
    },
    Event.CREDITS_LOW: {
        "nl": (
            "Uw credits voor {{ package_name }} raken op",
            "Beste {{ patient_first_name }},\n\n"
            "U heeft nog **{{ credits_available }}** credits beschikbaar in "
            "{{ package_name }}. Wilt u na deze behandelingen verder? Dan kunt u bij ons een "
            "nieuw pakket aanschaffen; wij helpen u graag.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Your credits for {{ package_name }} are running low",
            "Dear {{ patient_first_name }},\n\n"
            "You have **{{ credits_available }}** credits left in {{ package_name }}. Would "
            "you like to continue after these treatments? You can purchase a new package "
            "from us; we are happy to help.\n\n" + SIGNATURE_EN,
        ),
    },
    Event.CREDITS_EXPIRING: {
        "nl": (
            "Uw credits voor {{ package_name }} verlopen binnenkort",
            "Beste {{ patient_first_name }},\n\n"
            "Van uw pakket {{ package_name }} verlopen **{{ credits_expiring }} credits** na "
            "{{ expiry_date }}. Plan uw afspraken op tijd in, dan maakt u er nog gebruik "
            "van.\n\n" + SIGNATURE_NL,
        ),
        "en": (
            "Your credits for {{ package_name }} expire soon",
            "Dear {{ patient_first_name }},\n\n"
            "**{{ credits_expiring }} credits** of your package {{ package_name }} expire "
            "after {{ expiry_date }}. Schedule your appointments in time to make use of "
            "them.\n\n" + SIGNATURE_EN,
        ),
    },
}


def default_text(event: str, language: str) -> tuple[str, str]:
    """(subject, body) as shipped; named invoice templates start from the standard one."""
    return DEFAULTS[event][language]
