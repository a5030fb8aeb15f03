"""Shared fixtures: a real MariaDB (see tests/mariadb.py) and the SuiteCRM-shaped schema."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
# The repository root goes first: pytest puts tests/ on sys.path, and tests/plugins/ (a folder without
# __init__.py) would otherwise shadow the shipped `plugins` package as a namespace package whenever
# pytest runs as a script instead of `python -m pytest`.
sys.path.insert(0, str(TESTS.parent))

from mariadb import SUITECRM_SCHEMA, MySQLServer, get_server, load_sql  # noqa: E402


@pytest.fixture(scope="session")
def mysql_server() -> MySQLServer:
    """A running MariaDB/MySQL server (DSN from the environment, or a private throw-away one)."""
    try:
        server = get_server()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def mysql_db(mysql_server: MySQLServer):
    """A fresh empty database; yields its name, drops it afterwards."""
    name = mysql_server.create_database()
    yield name
    mysql_server.drop_database(name)


@pytest.fixture
def suitecrm_db(mysql_server: MySQLServer, mysql_db: str) -> str:
    """A fresh database with the SuiteCRM-shaped tables of tests/fixtures/suitecrm_schema.sql."""
    load_sql(mysql_server, mysql_db, SUITECRM_SCHEMA)
    return mysql_db
