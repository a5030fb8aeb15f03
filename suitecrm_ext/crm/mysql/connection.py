"""MySQLCRM's connections: one per thread, guarded statements, reconnect and retry on transient faults.

:class:`MySQLConnections` is a mixin of :class:`~suitecrm_ext.crm.mysql.reader.MySQLCRM` (which sets
``_conn_args``, ``policy``, ``_guard``, ``_local``, ``_open_conns`` and ``_conns_lock``). Every statement
passes :class:`~suitecrm_ext.crm.mysql.guard.SqlGuard` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql
import pymysql.cursors

from suitecrm_ext.crm.base import TransientError
from suitecrm_ext.crm.mysql.errors import map_error


class MySQLConnections:
    """Connections and statements of a MySQLCRM."""

    def _connect(self, **extra: Any) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(**self._conn_args, **extra)
        except pymysql.MySQLError as exc:
            raise map_error(exc, f"connect to {self!r}") from None
        except OSError as exc:
            raise TransientError(f"connect to {self!r}: {exc}", transport="mysql") from None

    @property
    def _conn(self) -> pymysql.connections.Connection | None:
        return getattr(self._local, "conn", None)

    @_conn.setter
    def _conn(self, conn: pymysql.connections.Connection | None) -> None:
        old = getattr(self._local, "conn", None)
        self._local.conn = conn
        with self._conns_lock:
            self._open_conns.discard(old)
            if conn is not None:
                self._open_conns.add(conn)

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None or not self._conn.open:
            self._conn = self._connect()
        return self._conn

    def _run(self, sql: str, params: Sequence[Any] = (), *, one: bool = False) -> Any:
        """Run a guarded read: rows, or one row. Transient faults (connection lost or refused, deadlock,
        lock wait timeout) reconnect and retry with backoff and jitter (a read is idempotent)."""
        self._guard.check(sql)

        def once() -> Any:
            try:
                with self._connection().cursor() as cur:
                    cur.execute(sql, tuple(params))
                    return cur.fetchone() if one else cur.fetchall()
            except (pymysql.MySQLError, OSError) as exc:
                err = map_error(exc)
            if isinstance(err, TransientError):
                self._drop_connection()
            raise err

        try:
            return self.policy.call(once)
        except TransientError:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None

    def ping(self) -> None:
        """Connect (or reconnect) and run ``SELECT 1``; raises AuthError / TransientError / NotFound."""
        self._run("SELECT 1")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only statement of your own (parameterised: ``%s`` placeholders) → rows as dicts.

        The statement passes :class:`SqlGuard`: anything that writes a SuiteCRM table is refused.
        """
        self._guard.check(sql)
        try:
            with self._connection().cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall())
        except (pymysql.MySQLError, OSError) as exc:
            raise map_error(exc) from None

    def close(self) -> None:
        """Close every thread's connection."""
        self._drop_connection()
        with self._conns_lock:
            conns, self._open_conns = list(self._open_conns), set()
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken or foreign-thread connection
                pass


__all__ = ["MySQLConnections"]
