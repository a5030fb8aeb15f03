"""The shipped BP-scripts, one module each (a settings model, ``run``, the ``SCRIPT`` object)."""

from . import call_webhook, create_records, create_task, send_email, send_sms, set_fields, wait_for

SHIPPED = [
    set_fields.SCRIPT,
    create_records.SCRIPT,
    create_task.SCRIPT,
    wait_for.SCRIPT,
    send_sms.SCRIPT,
    send_email.SCRIPT,
    call_webhook.SCRIPT,
]

__all__ = ["SHIPPED"]
