"""The state-store fixtures: every test in tests/state runs against SQLite and a real MariaDB."""

from __future__ import annotations

import pytest

from suitecrm_ext.state.mysql import MySQLStore
from suitecrm_ext.state.sqlite import SQLiteStore


class Clock:
    """A hand-driven clock shared by the stores of one test."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "mysql"])
def open_store(request, tmp_path, clock):
    """Factory: each call opens a NEW connection to the same store (as another process would)."""
    opened = []
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite3"

        def factory(**kw):
            s = SQLiteStore(path, clock=kw.pop("clock", clock), **kw)
            opened.append(s)
            return s
    else:
        server = request.getfixturevalue("mysql_server")
        db = request.getfixturevalue("mysql_db")

        def factory(**kw):
            s = MySQLStore(clock=kw.pop("clock", clock), **server.params(db), **kw)
            opened.append(s)
            return s

    factory.backend = request.param
    yield factory
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store):
    return open_store()
