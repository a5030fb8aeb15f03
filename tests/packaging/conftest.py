"""Fixtures for the package builder tests."""

from __future__ import annotations

import pytest
from pkg_helpers import SMALL_SCHEMA

from suitecrm_ext.packaging.schema import Schema, load_schema_file


@pytest.fixture
def small_schema() -> Schema:
    """The fixture schema exercising every feature (tests/packaging/fixtures/small_schema.yaml)."""
    return load_schema_file(SMALL_SCHEMA, "demo")
