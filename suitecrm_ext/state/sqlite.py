"""SQLite state store: the default, one file, safe for several processes on one host.

WAL journal (readers never block the writer), ``synchronous=FULL`` (a commit is on disk before
``enqueue`` returns, so the push receiver may answer 2xx; claims, acks and failures commit with
``NORMAL``: they survive a process crash, and losing one to a power cut only means a redelivery),
and every write in a ``BEGIN IMMEDIATE``
transaction so two processes never interleave a read-then-write (claims, lock takes). A writer that
finds the file busy waits up to ``busy_timeout`` seconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from suitecrm_ext.state.base import StateError
from suitecrm_ext.state.sql import SQLStore

T = TypeVar("T")


class SQLiteStore(SQLStore):
    """The state store in one SQLite file (created with its directory if missing)."""

    backend = "sqlite"
    paramstyle = "?"
    insert_ignore = "INSERT OR IGNORE"
    claim_suffix = ""

    def __init__(
        self, path: Path | str, *, busy_timeout: float = 30.0, clock: Callable[[], float] = time.time
    ):
        super().__init__(clock)
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"state.path: cannot open SQLite state file {self.path}: {exc}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._sync_full = True
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self.run(self._migrate)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StateError(f"state.path: {self.path} is not a usable SQLite state file: {exc}") from None

    def _transaction(self, fn: Callable[[Any], T], write: bool = True, durable: bool = True) -> T:
        if write and durable != self._sync_full:
            # WAL + NORMAL: the commit survives a process crash, and the next FULL commit flushes it
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._sync_full = durable
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            result = fn(cur)
            cur.execute("COMMIT")
            return result
        except BaseException as exc:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise StateError(f"SQLite state store {self.path}: {exc}") from exc
            raise
        finally:
            cur.close()

    def _upsert_sql(self, table: str, cols: Sequence[str], key: Sequence[str]) -> str:
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
        return (f"INSERT INTO {{{table}}} ({', '.join(cols)}) VALUES ({self._in(len(cols))}) "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")

    def close(self) -> None:
        """Close the connection."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
