"""In-memory CRM (placeholder until the gateway issue lands)."""

from suitecrm_ext.crm.base import CRM


class FakeCRM(CRM):  # type: ignore[misc]
    """Placeholder."""
