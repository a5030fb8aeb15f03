"""Where payments go: through the CRM API (default) or bulk into the plugin's own tables (``write: mysql``).

Both writers answer :meth:`existing` (what is stored now, to tell new / updated / unchanged apart — by
``onec_key``, and by ``twin_key`` for payments that joined the other source's record),
:meth:`by_identity` / :meth:`any_from` (to find that record: see ``twins.py``) and :meth:`write`
(create or update records and their Account relationship), and both are idempotent: writing the same
payments again leaves one record per payment.

- :class:`ApiPaymentWriter` finds stored payments by their ``onec_key`` and saves through
  ``crm.save_many`` in batches (updates carry the stored id; the transport itself makes creates safe to
  retry), then relates matched payments to their Account through the ``accounts_onec_payments`` link.
  SuiteCRM's own save is the slow part (~20 records/s per connection, its hooks and audit run): with
  ``parallel`` > 1 a batch's saves and links go out as that many concurrent requests, each on a CRM
  client of its own (its own SuiteCRM session: PHP serves one request per session at a time).
- :class:`MySQLPaymentWriter` writes ``onec_payments`` and ``accounts_onec_payments_c`` straight through
  ``OwnedTableWriter.insert_many(..., update_on_duplicate=...)`` — **direct SQL, allowed only because
  this plugin's own package created both tables** (design principle 2) — filling every column SuiteCRM
  fills (id, name, date_entered, date_modified, created_by, modified_user_id, deleted,
  assigned_user_id; relationship id, date_modified, deleted). Ids are derived from the payment key, so a
  re-run (also after a crash) upserts the same rows.
"""

from __future__ import annotations

import datetime as dt
import queue
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from suitecrm_ext import CRM, Cond, Record

from .payment import record_id

MODULE = "onec_Payments"
TABLE = "onec_payments"
LINK = "accounts_onec_payments"
REL_TABLE = "accounts_onec_payments_c"
REL_LHS = "accounts_onec_paymentsaccounts_ida"
REL_RHS = "accounts_onec_paymentsonec_payments_idb"

#: fields of a payment record the importer sets (and compares to decide "unchanged")
FIELDS = ("name", "onec_key", "payment_number", "payment_date", "amount", "currency", "payer_inn",
          "payer_kpp", "payer_name", "payer_account", "payer_bik", "purpose", "status", "status_note",
          "source", "payment_identity", "twin_key", "assigned_user_id")
CHUNK = 500


@dataclass
class PreparedWrite:
    """A batch of :class:`MySQLPaymentWriter`, checked and rendered, waiting to be written."""

    ids: list[str]
    inserts: list[Any]
    unlinked: list[str]
    now: str


@dataclass
class Stored:
    """A payment as stored now: its record id and compared values."""

    id: str
    values: dict[str, Any]


def same_values(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether the stored record already holds ``new`` (amounts and dates compared by value)."""
    for name, value in new.items():
        old = stored.get(name)
        if name == "amount":
            try:
                if Decimal(str(old or "0")) != Decimal(str(value)):
                    return False
            except InvalidOperation:
                return False
        elif name == "payment_date":
            if str(old or "")[:10] != str(value or "")[:10]:
                return False
        elif str(old if old is not None else "") != str(value if value is not None else ""):
            return False
    return True


def _by_identity(crm: CRM, module: str, identities: Sequence[str]) -> dict[str, list[Stored]]:
    out: dict[str, list[Stored]] = {}
    for start in range(0, len(identities), CHUNK):
        part = list(identities[start:start + CHUNK])
        for rec in crm.find(module, Cond("payment_identity", "in", part), fields=["id", *FIELDS]):
            out.setdefault(str(rec.get("payment_identity")), []).append(Stored(rec.id, dict(rec.values)))
    return out


class ApiPaymentWriter:
    """Payments through the CRM interface (SuiteCRM's logic hooks, workflows and audit run).

    ``parallel``: concurrent requests per batch (1 = one after the other). The first client is ``crm``;
    the others come from ``clients()`` (a new CRM with its own connections, e.g. ``ctx.new_crm``), made
    when first needed and closed by :meth:`finish`. ``chunk``: rows per concurrent ``save_many``.
    """

    name = "api"

    def __init__(self, crm: CRM, *, module: str = MODULE, link: str = LINK, batch_size: int = 200,
                 parallel: int = 1, clients: Callable[[], CRM] | None = None, chunk: int = 20):
        self.crm = crm
        self.module = module
        self.link = link
        self.batch_size = batch_size
        self.parallel = max(1, parallel if clients is not None else 1)
        self.chunk = max(1, chunk)
        self._factory = clients
        self._pool: ThreadPoolExecutor | None = None
        self._idle: queue.SimpleQueue[CRM] = queue.SimpleQueue()
        self._made: list[CRM] = []

    def write(self, rows: Sequence[dict[str, Any]], accounts: Mapping[str, str | None]) -> list[str]:
        """Save rows (``id`` present = update) in batches; relate matched ones. Returns ids in order.

        ``accounts`` maps a row's ``onec_key`` to its matched Account id (or None). With ``parallel`` > 1
        the batch goes out as concurrent requests; every one of them has finished (or failed) before this
        returns or raises, so no write is left in flight behind the caller's back.
        """
        size = self.batch_size if self.parallel == 1 else min(self.batch_size, self.chunk)
        parts = [list(rows[start:start + size]) for start in range(0, len(rows), size)]
        ids = [rid for part in self._each(lambda crm, part: crm.save_many(self.module, part), parts)
               for rid in part]
        by_account: dict[str, list[str]] = {}
        for row, rid in zip(rows, ids, strict=True):
            acc = accounts.get(row["onec_key"])
            if acc:
                by_account.setdefault(acc, []).append(rid)
        self._each(lambda crm, item: crm.relate("Accounts", item[0], self.link, item[1]),
                   list(by_account.items()))
        return ids

    def _each(self, call: Callable[[CRM, Any], Any], items: list[Any]) -> list[Any]:
        """``call(client, item)`` for every item, at most ``parallel`` at a time; results in item order."""
        if self.parallel > 1 and len(items) > 1 and self._pool is None:
            second = self._client()
            if second is self.crm:  # a shared client (an app given a ready-made CRM): no second session
                self.parallel = 1
            else:
                self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="onec-api")
                self._idle.put(self.crm)
                self._idle.put(second)
        if self.parallel == 1 or len(items) <= 1:
            return [call(self.crm, item) for item in items]
        assert self._pool is not None

        def run(item: Any) -> Any:
            try:
                client = self._idle.get_nowait()
            except queue.Empty:
                client = self._client()
            try:
                return call(client, item)
            finally:
                self._idle.put(client)

        futures = [self._pool.submit(run, item) for item in items]
        wait(futures)
        for fut in futures:
            exc = fut.exception()
            if exc is not None:
                raise exc
        return [fut.result() for fut in futures]

    def _client(self) -> CRM:
        assert self._factory is not None
        client = self._factory()
        if client is not self.crm:
            self._made.append(client)
        return client

    def finish(self) -> None:
        """Close the extra clients and the thread pool (made again when the next write needs them)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._idle = queue.SimpleQueue()
        for client in self._made:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing (logout) must not hide the import's outcome
                pass
        self._made = []

    def existing(self, keys: Sequence[str], *, twin_keys: bool = True) -> dict[str, Stored]:
        """Stored payments by ``onec_key`` (and, with ``twin_keys``, by the ``twin_key`` of joined ones)."""
        out: dict[str, Stored] = {}
        for name in ("onec_key", "twin_key") if twin_keys else ("onec_key",):
            left = [k for k in keys if k not in out]
            for start in range(0, len(left), CHUNK):
                part = left[start:start + CHUNK]
                for rec in self.crm.find(self.module, Cond(name, "in", part), fields=["id", *FIELDS]):
                    out[str(rec.get(name))] = Stored(rec.id, dict(rec.values))
        return out

    def by_identity(self, identities: Sequence[str]) -> dict[str, list[Stored]]:
        """Stored payments by ``payment_identity``."""
        return _by_identity(self.crm, self.module, identities)

    def any_from(self, source: str) -> bool:
        """Whether any stored payment has this ``source``."""
        return next(iter(self.crm.find(self.module, Cond("source", "eq", source), fields=["id"], limit=1)),
                    None) is not None

    def find(self, where: Any, fields: Sequence[str]) -> list[Record]:
        """Stored payments matching ``where`` (for re-matching and vanished documents)."""
        return list(self.crm.find(self.module, where, fields=list(fields)))

    def mark(self, ids: Sequence[str], values: Mapping[str, Any]) -> None:
        """Set the same values on several stored payments."""
        rows = [{"id": i, **values} for i in ids]
        for start in range(0, len(rows), self.batch_size):
            self.crm.save_many(self.module, rows[start:start + self.batch_size])


class MySQLPaymentWriter:
    """Bulk upserts into the plugin's own tables through an ``OwnedTableWriter``.

    ``reader`` is a CRM that reads the Payments module (the MySQL read transport or the gateway);
    ``owned`` the writer from ``MySQLCRM.owned_writer([TABLE, REL_TABLE])``; ``user_id`` the SuiteCRM
    user stamped into created_by / modified_user_id.
    """

    name = "mysql"
    #: :meth:`write_prepared` may run in the importer's writer thread while :meth:`existing` and
    #: :meth:`prepare` handle the next batch here: the owned writer's connection is used by that one
    #: thread at a time (preparing never touches it)
    writes_in_background = True
    #: a payment and its Account link are written in one transaction (the importer need not track links)
    links_atomic = True

    def __init__(self, reader: CRM, owned: Any, *, user_id: str = "1", module: str = MODULE,
                 clock: Any = None):
        self.reader = reader
        self.owned = owned
        self.user_id = user_id
        self.module = module
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def _unlink(self, ids: list[str], now: str) -> None:
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            marks = ", ".join(["%s"] * len(part))
            self.owned.execute(
                f"UPDATE `{REL_TABLE}` SET deleted = 1, date_modified = %s "
                f"WHERE `{REL_RHS}` IN ({marks}) AND deleted = 0", [now, *part])

    def _now(self) -> str:
        return self._clock().astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def existing(self, keys: Sequence[str], *, twin_keys: bool = True) -> dict[str, Stored]:
        """Stored payments by key, looked up by their derived ids (the primary key); with ``twin_keys``
        the rest by ``twin_key`` (payments that joined the other source's record)."""
        by_id = {record_id(k): k for k in keys}
        out: dict[str, Stored] = {}
        ids = list(by_id)
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            for rec in self.reader.find(self.module, Cond("id", "in", part), fields=["id", *FIELDS]):
                out[by_id[rec.id]] = Stored(rec.id, dict(rec.values))
        left = [k for k in keys if k not in out] if twin_keys else []
        for start in range(0, len(left), CHUNK):
            part = left[start:start + CHUNK]
            for rec in self.reader.find(self.module, Cond("twin_key", "in", part), fields=["id", *FIELDS]):
                out[str(rec.get("twin_key"))] = Stored(rec.id, dict(rec.values))
        return out

    def by_identity(self, identities: Sequence[str]) -> dict[str, list[Stored]]:
        """Stored payments by ``payment_identity``."""
        return _by_identity(self.reader, self.module, identities)

    def any_from(self, source: str) -> bool:
        """Whether any stored payment has this ``source``."""
        return next(iter(self.reader.find(self.module, Cond("source", "eq", source), fields=["id"], limit=1)),
                    None) is not None

    def write(self, rows: Sequence[dict[str, Any]], accounts: Mapping[str, str | None]) -> list[str]:
        """Upsert payment rows and their relationship rows in one transaction."""
        return self.write_prepared(self.prepare(rows, accounts))

    def prepare(self, rows: Sequence[dict[str, Any]], accounts: Mapping[str, str | None]) -> PreparedWrite:
        """Build, check and render a batch's statements (no I/O on the writer's connection)."""
        now = self._now()
        records = []
        rels = []
        unlinked = []
        stamps = {"date_entered": now, "date_modified": now, "created_by": self.user_id,
                  "modified_user_id": self.user_id, "deleted": 0}
        for row in rows:
            rid = record_id(row["onec_key"])
            rec = {k: row.get(k, "") for k in FIELDS}
            rec["amount"] = str(rec["amount"])
            rec["payment_date"] = str(rec["payment_date"]) or None
            rec["id"] = rid
            rec.update(stamps)
            records.append(rec)
            acc = accounts.get(row["onec_key"])
            if acc:
                rels.append({"id": record_id("rel:" + rid), "date_modified": now, "deleted": 0,
                             REL_LHS: acc, REL_RHS: rid})
            elif "id" in row:  # a stored payment (new ones have no relationship row to remove)
                unlinked.append(rid)
        update = [*FIELDS, "date_modified", "modified_user_id", "deleted"]
        inserts = [self.owned.prepare_insert(TABLE, records, update_on_duplicate=update)]
        if rels:
            rel_update = (REL_LHS, "date_modified", "deleted")
            inserts.append(self.owned.prepare_insert(REL_TABLE, rels, update_on_duplicate=rel_update))
        return PreparedWrite([r["id"] for r in records], inserts, unlinked, now)

    def finish(self) -> None:
        """Nothing to release (the owned writer's connection lives as long as the writer)."""

    def write_prepared(self, prepared: PreparedWrite) -> list[str]:
        """Run a prepared batch in one transaction; returns the record ids in row order."""
        with self.owned.transaction():
            for insert in prepared.inserts:
                self.owned.run_prepared(insert)
            self._unlink(prepared.unlinked, prepared.now)
        return prepared.ids

    def find(self, where: Any, fields: Sequence[str]) -> list[Record]:
        """Stored payments matching ``where``."""
        return list(self.reader.find(self.module, where, fields=list(fields)))

    def mark(self, ids: Sequence[str], values: Mapping[str, Any]) -> None:
        """Set the same values on several stored payments (one UPDATE per chunk)."""
        cols = [c for c in values if c in FIELDS]
        if not ids or not cols:
            return
        now = self._now()
        sets = ", ".join(f"`{c}` = %s" for c in cols)
        with self.owned.transaction():
            for start in range(0, len(ids), CHUNK):
                part = list(ids[start:start + CHUNK])
                marks = ", ".join(["%s"] * len(part))
                self.owned.execute(
                    f"UPDATE `{TABLE}` SET {sets}, date_modified = %s, modified_user_id = %s "
                    f"WHERE id IN ({marks})", [*(values[c] for c in cols), now, self.user_id, *part])
