"""MySQL/MariaDB state store: several workers on several hosts share one queue.

Tables are prefixed ``sxt_`` so the store may live in its own database or share one. Claims use
``SELECT ... FOR UPDATE SKIP LOCKED`` (MariaDB >= 10.6, MySQL >= 8.0), so concurrent workers take
disjoint rows without waiting; on older servers a plain ``FOR UPDATE`` is used (still correct: the
second worker waits, then sees the first one's leases). Transactions are retried on deadlock / lock
wait timeout and the connection is re-opened after the server drops it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pymysql
from pymysql.constants import CLIENT

from suitecrm_ext.state.base import StateError
from suitecrm_ext.state.sql import SQLStore

if TYPE_CHECKING:
    from suitecrm_ext.config import MySQLSettings

T = TypeVar("T")

_RETRY_CODES = {1213, 1205}  # deadlock, lock wait timeout
_GONE_CODES = {2006, 2013, 2055}  # server gone away, lost connection
_MIGRATE_LOCK = "suitecrm_ext_state_migrate"


class MySQLStore(SQLStore):
    """The state store in a MySQL/MariaDB database (which must exist; tables are created)."""

    backend = "mysql"
    paramstyle = "%s"
    insert_ignore = "INSERT IGNORE"

    def __init__(self, *, clock: Callable[[], float] = time.time, **connect: Any):
        super().__init__(clock)
        self._params = dict(connect)
        c = connect
        self._where = f"{c.get('user')}@{c.get('host')}:{c.get('port')}/{c.get('database')}"
        self._conn = self._connect()
        version = self._conn.get_server_info()
        self.claim_suffix = " FOR UPDATE SKIP LOCKED" if _skip_locked_supported(version) else " FOR UPDATE"
        self._migrate_locked()

    @classmethod
    def from_settings(cls, settings: MySQLSettings, **kw: Any) -> MySQLStore:
        """Open the store described by the config's ``state.mysql`` section."""
        params: dict[str, Any] = {
            "host": settings.host, "port": settings.port, "user": settings.user,
            "password": settings.password.get_secret_value(), "database": settings.database,
        }
        if settings.unix_socket:
            params["unix_socket"] = settings.unix_socket
        return cls(**params, **kw)

    def _connect(self) -> pymysql.connections.Connection:
        try:
            # READ COMMITTED: a claim's locking read then keeps locks only on the rows it takes, not
            # on every row it scanned (REPEATABLE READ would block other workers' acks behind it)
            return pymysql.connect(
                charset="utf8mb4", autocommit=True, client_flag=CLIENT.FOUND_ROWS, connect_timeout=10,
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", **self._params,
            )
        except pymysql.err.MySQLError as exc:
            # the message names the server, never the password
            raise StateError(f"state.mysql: cannot connect to {self._where}: {exc.args[-1]}") from None

    def _migrate_locked(self) -> None:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("SELECT GET_LOCK(%s, 60)", (_MIGRATE_LOCK,))
                if cur.fetchone()[0] != 1:
                    raise StateError(f"state.mysql: another process holds the migration lock on "
                                     f"{self._where}")
                try:
                    # DDL commits implicitly on MySQL: the statements use IF NOT EXISTS so a migration
                    # interrupted half-way simply runs again
                    self._migrate(cur)
                finally:
                    cur.execute("SELECT RELEASE_LOCK(%s)", (_MIGRATE_LOCK,))
            except pymysql.err.MySQLError as exc:
                raise StateError(f"state.mysql {self._where}: migration failed: {exc.args[-1]}") from None
            finally:
                cur.close()

    def _transaction(self, fn: Callable[[Any], T], write: bool = True, durable: bool = True) -> T:
        attempt = 0
        while True:
            attempt += 1
            cur = None
            try:
                cur = self._conn.cursor()
                cur.execute("START TRANSACTION" if write else "START TRANSACTION READ ONLY")
                result = fn(cur)
                self._conn.commit()
                return result
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
                try:
                    self._conn.rollback()
                except pymysql.err.MySQLError:
                    pass
                if code in _GONE_CODES and attempt <= 2:
                    self._conn = self._connect()
                    continue
                if code in _RETRY_CODES and attempt <= 5:
                    time.sleep(0.01 * attempt)
                    continue
                raise StateError(f"MySQL state store {self._where}: {exc.args[-1]}") from exc
            except BaseException:
                try:
                    self._conn.rollback()
                except pymysql.err.MySQLError:
                    pass
                raise
            finally:
                if cur is not None:
                    cur.close()

    def _upsert_sql(self, table: str, cols: Sequence[str], key: Sequence[str]) -> str:
        updates = ", ".join(f"{c} = VALUES({c})" for c in cols if c not in key)
        return (f"INSERT INTO {{{table}}} ({', '.join(cols)}) VALUES ({self._in(len(cols))}) "
                f"ON DUPLICATE KEY UPDATE {updates}")

    def close(self) -> None:
        """Close the connection."""
        if not self._closed:
            self._closed = True
            try:
                self._conn.close()
            except pymysql.err.Error:
                pass

    def __repr__(self) -> str:
        return f"MySQLStore({self._where!r})"


def _skip_locked_supported(version: str) -> bool:
    """MariaDB >= 10.6 or MySQL >= 8.0 understand SKIP LOCKED."""
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        return False
    major, minor = int(m.group(1)), int(m.group(2))
    if "mariadb" in version.lower():
        return (major, minor) >= (10, 6)
    return major >= 8
