"""A real MariaDB for tests: the server named by $SUITECRM_EXT_TEST_MYSQL_DSN, or a private one.

DSN form: ``mysql://user:password@host:port/`` (or ``mysql://user:password@/?unix_socket=/path``).
Without a DSN, a throw-away ``mariadbd`` is started in a temp directory (needs the Debian package
mariadb-server; ``.ci/run`` installs it) and stopped at the end of the test session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pymysql

DSN_ENV = "SUITECRM_EXT_TEST_MYSQL_DSN"
SUITECRM_SCHEMA = Path(__file__).parent / "fixtures" / "suitecrm_schema.sql"


@dataclass
class MySQLServer:
    """Connection parameters of a test server."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    unix_socket: str | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _tmp: str | None = field(default=None, repr=False)

    def connect(self, database: str | None = None, **kw) -> pymysql.connections.Connection:
        """A pymysql connection (autocommit, utf8mb4)."""
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            unix_socket=self.unix_socket, database=database, charset="utf8mb4", autocommit=True, **kw,
        )

    def params(self, database: str) -> dict:
        """Keyword arguments for config's MySQLSettings."""
        out = {"host": self.host, "port": self.port, "user": self.user, "password": self.password,
               "database": database}
        if self.unix_socket:
            out["unix_socket"] = self.unix_socket
        return out

    def create_database(self, prefix: str = "sxt") -> str:
        """A new empty database with a unique name (utf8, as SuiteCRM's installer creates it)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_general_ci")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database made by create_database."""
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def stop(self) -> None:
        """Stop a private server and delete its files."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def from_dsn(dsn: str) -> MySQLServer:
    """Parse ``mysql://user:pass@host:port/?unix_socket=...``."""
    u = urlparse(dsn)
    if u.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"{DSN_ENV} must start with mysql://, got {dsn.split(':')[0]!r}")
    q = parse_qs(u.query)
    return MySQLServer(
        host=u.hostname or "127.0.0.1", port=u.port or 3306, user=unquote(u.username or "root"),
        password=unquote(u.password or ""), unix_socket=(q.get("unix_socket") or [None])[0],
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_private() -> MySQLServer:
    """Start a throw-away mariadbd (as the current user) and wait until it answers."""
    mariadbd = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not Path(mariadbd).exists() or not install:
        raise RuntimeError(
            "no MariaDB server: install it (apt-get install -y mariadb-server) or set "
            f"{DSN_ENV}=mysql://user:password@host:port/"
        )
    tmp = tempfile.mkdtemp(prefix="sxt-mariadb-")
    datadir, sock = os.path.join(tmp, "data"), os.path.join(tmp, "mysqld.sock")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [install, f"--datadir={datadir}", "--auth-root-authentication-method=normal",
         "--skip-test-db", *user],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [mariadbd, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={tmp}/mysqld.pid", "--skip-log-bin",
         "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=2",
         "--max-connections=500", f"--log-error={tmp}/error.log", *user],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server = MySQLServer(port=port, unix_socket=sock, _proc=proc, _tmp=tmp)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.connect().close()
            return server
        except pymysql.err.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = Path(tmp, "error.log").read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"private mariadbd did not start:\n{log}") from None
            time.sleep(0.2)


def get_server() -> MySQLServer:
    """The DSN's server, else a private one."""
    dsn = os.environ.get(DSN_ENV)
    return from_dsn(dsn) if dsn else start_private()


def load_sql(server: MySQLServer, database: str, path: Path) -> None:
    """Run every statement of a ``;``-terminated SQL file (no procedures)."""
    text = path.read_text(encoding="utf-8")
    with server.connect(database) as conn, conn.cursor() as cur:
        for stmt in text.split(";\n"):
            stmt = stmt.strip()
            if stmt and not all(line.startswith("--") for line in stmt.splitlines()):
                cur.execute(stmt)
