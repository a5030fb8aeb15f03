"""Declarative record routing: steps, approvals, deadlines, escalation."""
