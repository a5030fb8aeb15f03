"""Schema migrations of the state store, per backend, applied in order when a store is opened.

Each entry of ``MIGRATIONS`` is ``version -> {"sqlite": [statements], "mysql": [statements]}``. A store
records the versions applied in its ``schema_version`` table. Add a migration by appending the next
version; never edit one that has shipped.
"""

from __future__ import annotations

_MYSQL_TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

MIGRATIONS: dict[int, dict[str, list[str]]] = {
    1: {
        "sqlite": [
            """CREATE TABLE cursors (
                name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)""",
            """CREATE TABLE kv (
                ns TEXT NOT NULL, k TEXT NOT NULL, value TEXT NOT NULL, expires_at REAL,
                PRIMARY KEY (ns, k))""",
            "CREATE INDEX kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, event_key TEXT NOT NULL UNIQUE,
                module TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
                received_at REAL NOT NULL, fanned_out INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX events_fanout ON events (fanned_out, seq)",
            """CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT, event_seq INTEGER NOT NULL, event_key TEXT NOT NULL,
                plugin TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL, lease_owner TEXT, lease_until REAL, last_error TEXT,
                updated_at REAL NOT NULL, UNIQUE (event_seq, plugin))""",
            "CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)",
            "CREATE INDEX deliveries_owner ON deliveries (lease_owner)",
            """CREATE TABLE locks (
                name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL)""",
            """CREATE TABLE job_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, owner TEXT NOT NULL,
                started_at REAL NOT NULL, finished_at REAL, ok INTEGER, summary TEXT)""",
            "CREATE INDEX job_runs_name ON job_runs (name, id)",
        ],
        "mysql": [
            f"""CREATE TABLE IF NOT EXISTS sxt_cursors (
                name VARCHAR(190) NOT NULL PRIMARY KEY, value MEDIUMTEXT NOT NULL,
                updated_at DOUBLE NOT NULL) {_MYSQL_TABLE}""",
            f"""CREATE TABLE IF NOT EXISTS sxt_kv (
                ns VARCHAR(190) NOT NULL, k VARCHAR(190) NOT NULL, value MEDIUMTEXT NOT NULL,
                expires_at DOUBLE NULL, PRIMARY KEY (ns, k), KEY kv_expiry (expires_at)) {_MYSQL_TABLE}""",
            f"""CREATE TABLE IF NOT EXISTS sxt_events (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, event_key VARCHAR(190) NOT NULL,
                module VARCHAR(100) NOT NULL, record_id VARCHAR(100) NOT NULL, kind VARCHAR(16) NOT NULL,
                body MEDIUMTEXT NOT NULL, received_at DOUBLE NOT NULL, fanned_out TINYINT NOT NULL DEFAULT 0,
                UNIQUE KEY events_key (event_key), KEY events_fanout (fanned_out, seq)) {_MYSQL_TABLE}""",
            f"""CREATE TABLE IF NOT EXISTS sxt_deliveries (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, event_seq BIGINT NOT NULL,
                event_key VARCHAR(190) NOT NULL, plugin VARCHAR(190) NOT NULL, status VARCHAR(8) NOT NULL,
                attempts INT NOT NULL DEFAULT 0, next_attempt_at DOUBLE NOT NULL,
                lease_owner VARCHAR(190) NULL, lease_until DOUBLE NULL, last_error TEXT NULL,
                updated_at DOUBLE NOT NULL, UNIQUE KEY deliveries_event_plugin (event_seq, plugin),
                KEY deliveries_due (status, next_attempt_at), KEY deliveries_owner (lease_owner))
                {_MYSQL_TABLE}""",
            f"""CREATE TABLE IF NOT EXISTS sxt_locks (
                name VARCHAR(190) NOT NULL PRIMARY KEY, owner VARCHAR(190) NOT NULL,
                expires_at DOUBLE NOT NULL) {_MYSQL_TABLE}""",
            f"""CREATE TABLE IF NOT EXISTS sxt_job_runs (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(190) NOT NULL,
                owner VARCHAR(190) NOT NULL, started_at DOUBLE NOT NULL, finished_at DOUBLE NULL,
                ok TINYINT NULL, summary TEXT NULL, KEY job_runs_name (name, id)) {_MYSQL_TABLE}""",
        ],
    },
    # claims scan pending deliveries in id order: without this index every claim sorted all pending rows
    2: {
        "sqlite": ["CREATE INDEX deliveries_claim ON deliveries (status, id)"],
        "mysql": ["CREATE INDEX IF NOT EXISTS deliveries_claim ON sxt_deliveries (status, id)"],
    },
}

#: Table names per backend (MySQL tables are prefixed: the store may share a database with others).
_NAMES = ("schema_version", "cursors", "kv", "events", "deliveries", "locks", "job_runs")
TABLES = {
    "sqlite": {t: t for t in _NAMES},
    "mysql": {t: f"sxt_{t}" for t in _NAMES},
}
