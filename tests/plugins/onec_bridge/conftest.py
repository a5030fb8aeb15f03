"""Registers the onec_bridge fixtures; the helpers live in onec_kit.py (import them from there, not from
``conftest``: several test folders have a conftest.py, and ``from conftest import`` picks the wrong one)."""

from onec_kit import crm, ctx_factory  # noqa: F401
