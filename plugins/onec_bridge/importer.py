"""The import pipeline: payments → matched to Accounts → written in batches → Tasks for unmatched ones.

:class:`PaymentImporter` takes payments from either source and, batch by batch:

1. matches each to an Account (:mod:`.matching`; status ``matched`` / ``unmatched`` with the reason in
   ``status_note``; a payment 1C marks deleted or not posted is ``ignored`` with that note);
2. compares with what is stored (:meth:`existing`) → counts *new*, *updated*, *unchanged*; a payment
   without a record of its own that the other source already brought (same identity, :mod:`.twins`)
   joins that record instead (counted *joined*);
3. writes new and changed payments (API or bulk SQL writer) and relates matched ones to their Account;
4. makes sure every unmatched payment has one Task for the responsible manager (the configured
   ``task_user_id``, else the assigned user of an Account with the payer's INN, else ``user_id``):
   a payment with a Task — open, done or deleted — gets no second one, so retries and re-runs never
   duplicate Tasks and a crash between writing a batch and creating its Tasks loses none; a payment
   the API writer saved but could not link to its Account yet (noted in the state store around the
   write) is written again by the next run, not taken for unchanged;
5. saves a resumable cursor (the index of the next batch) in the state store, when a cursor name is given.

A crash between batches loses nothing: a re-run resumes from the cursor, and a batch written before the
crash is simply found stored (and unchanged) again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from suitecrm_ext import CRM, Cond, all_of

from .matching import AccountIndex, Match
from .payment import Payment
from .twins import BOTH, combine, is_twin
from .writers import MODULE, Stored, same_values

log = logging.getLogger("suitecrm_ext.plugins.onec_bridge")

MATCHED, UNMATCHED, IGNORED = "matched", "unmatched", "ignored"
#: what SuiteCRM cannot store: control characters (it drops them; the gateway refuses them) and characters
#: outside the BMP such as emoji (utf8 columns: stored as '????'); replaced the same way on every run
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\U00010000-\U0010ffff]")


def storable(text: str) -> str:
    """``text`` as SuiteCRM can store it: control characters as spaces, emoji and the like as '?'."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: " " if m.group() < "\U00010000" else "?", text)
#: state kv (namespace, key): onec_keys of payments being saved whose Account link may not be made yet
LINKS_PENDING = ("onec_bridge", "links-pending")


@dataclass
class ImportSummary:
    """Counts of one import run (``skipped``: outgoing / filtered documents that are not payments in;
    ``transfers``: documents between the organisation's own accounts; ``joined``: payments that joined
    the record the other source made). ``notes``: what the reader should know (e.g. an unusual
    ``Кодировка=`` spelling), not counted."""

    total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    joined: int = 0
    matched: int = 0
    unmatched: int = 0
    ignored: int = 0
    skipped: int = 0
    transfers: int = 0
    tasks: int = 0
    vanished: int = 0
    resumed_at: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a dict (for job summaries and the CLI table); ``notes`` only when there are some."""
        out: dict[str, Any] = asdict(self)
        if not out["notes"]:
            del out["notes"]
        return out

    def add(self, other: ImportSummary) -> None:
        """Add another summary's counts (and notes) into this one."""
        for k, v in asdict(other).items():
            if k == "notes":
                self.notes.extend(v)
            else:
                setattr(self, k, getattr(self, k) + v)


@dataclass
class ImportOptions:
    """Importer settings (the plugin's settings carry the same names)."""

    inn_field: str = "ao_inn_c"
    kpp_field: str = "ao_kpp_c"
    batch_size: int = 500
    task_user_id: str = ""
    default_user_id: str = "1"
    create_tasks: bool = True


@dataclass
class _Plan:
    """One batch, matched and compared: the rows to write and what follows their commit."""

    size: int
    summary: ImportSummary
    rows: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # each row's payment key (a joined one's: its twin_key)
    accounts: dict[str, str | None] = field(default_factory=dict)
    unmatched: list[tuple[Payment, Match]] = field(default_factory=list)
    id_of: dict[str, str] = field(default_factory=dict)


def _done(result: list[str]) -> Future[list[str]]:
    """A finished future holding ``result`` (a write made in this thread)."""
    fut: Future[list[str]] = Future()
    fut.set_result(result)
    return fut


class PaymentImporter:
    """Runs payments through matching and into a writer. ``crm`` reads Accounts and writes Tasks."""

    _track = False  # see run(): links noted in the state store around each write
    _relink: set[str] = set()

    def __init__(self, crm: CRM, writer: Any, options: ImportOptions | None = None, state: Any = None,
                 progress: Callable[[int], None] | None = None):
        self.crm = crm
        self.writer = writer
        self.opt = options or ImportOptions()
        self.state = state
        self.progress = progress or (lambda n: None)

    # --- the pipeline --------------------------------------------------------------------

    def run(self, payments: Sequence[Payment], *, cursor: str | None = None, dry_run: bool = False,
            skipped: int = 0, transfers: int = 0) -> ImportSummary:
        """Import ``payments``; with ``cursor``, resume after the last batch a previous run finished.

        The same payment twice in the input (same key) is imported once; the repeat counts as skipped.
        """
        unique = list({p.key: p for p in payments}.values())
        skipped += len(payments) - len(unique)
        payments = unique
        summary = ImportSummary(total=len(payments), skipped=skipped, transfers=transfers)
        self._present: dict[str, bool] = {}  # per source: does any stored payment come from it?
        self._claimed: set[str] = set()  # records a payment of this run joined
        start = 0
        if cursor and self.state is not None and not dry_run:
            saved = self.state.get_cursor(cursor) or {}
            if not saved.get("done") and 0 < int(saved.get("next", 0)) <= len(payments):
                start = int(saved["next"])
                summary.resumed_at = start
                log.info("resuming %s at payment %d of %d", cursor, start, len(payments))
                self.progress(start)
        index = AccountIndex.load(self.crm, {p.payer_inn for p in payments[start:]},
                                  self.opt.inn_field, self.opt.kpp_field)
        size = max(1, self.opt.batch_size)
        # A writer that may write from another thread (its own connection; see MySQLPaymentWriter) gets
        # batch N written in the background while batch N+1 is looked up, matched and rendered here
        # (``prepare``; ``write_prepared`` runs in the thread): the server's work overlaps ours. At most
        # one write is in flight, and batch N's Tasks and cursor follow its commit, so a crash at any
        # point still resumes at the first batch not committed.
        pool = (ThreadPoolExecutor(1, thread_name_prefix="onec-write")
                if not dry_run and getattr(self.writer, "writes_in_background", False) else None)
        pending: tuple[_Plan, Future[list[str]] | None, int] | None = None
        # A writer that saves payments and links them in separate steps (the API): the keys of a batch's
        # matched payments are noted before its write and cleared after it, so a payment saved but not
        # linked (crash, SuiteCRM down) is written again by the next run instead of found unchanged
        self._track = (self.state is not None and not dry_run
                       and not getattr(self.writer, "links_atomic", False))
        self._relink: set[str] = set(self.state.kv_get(*LINKS_PENDING) or []) if self._track else set()
        try:
            for pos in range(start, len(payments), size):
                batch = payments[pos:pos + size]
                plan = self._plan(batch, index, summary)
                if pending is not None:
                    self._finish(*pending, cursor, len(payments))
                    pending = None
                if dry_run:
                    self.progress(len(batch))
                    continue
                write = None
                self._note_links(plan, add=True)
                if plan.rows and pool is not None:
                    # rendered here, so the writer thread only waits on the server (no GIL contention)
                    prepared = self.writer.prepare(plan.rows, plan.accounts)
                    write = pool.submit(self.writer.write_prepared, prepared)
                elif plan.rows:
                    write = _done(self.writer.write(plan.rows, plan.accounts))
                pending = (plan, write, pos + len(batch))
            if pending is not None:
                self._finish(*pending, cursor, len(payments))
        finally:
            if pool is not None:
                pool.shutdown(wait=True)  # an error here: the write in flight commits or rolls back first
            finish = getattr(self.writer, "finish", None)
            if finish is not None:
                finish()
        if cursor and self.state is not None and not dry_run and not payments:
            self.state.set_cursor(cursor, {"next": 0, "total": 0, "done": True})
        return summary

    def _plan(self, batch: Sequence[Payment], index: AccountIndex, summary: ImportSummary) -> _Plan:
        """Match a batch, compare it with what is stored and count it; nothing is written here."""
        stored = self.writer.existing([p.key for p in batch], twin_keys=self._has(BOTH))
        twins = self._twins([p for p in batch if p.key not in stored])
        plan = _Plan(size=len(batch), summary=summary)
        for p in batch:
            old = stored.get(p.key)
            joining = old is None and p.key in twins
            if joining:
                old = twins[p.key]
                summary.joined += 1
            if old is not None and (joining or old.values.get("source") == BOTH):
                both = combine(p, payment_from_record(old.values))
                match = index.match(both.payer_inn, both.payer_kpp)
                row = self.row(both, match)
                row.update(onec_key=str(old.values.get("onec_key")), source=BOTH,
                           twin_key=str(old.values.get("twin_key") or p.key))
            else:
                match = index.match(p.payer_inn, p.payer_kpp)
                row = self.row(p, match)
            status = row["status"]
            setattr(summary, status, getattr(summary, status) + 1)
            if status == UNMATCHED:
                plan.unmatched.append((p, match))
            if old is None:
                summary.new += 1
            elif same_values(old.values, row) and row["onec_key"] not in self._relink:
                summary.unchanged += 1
                plan.id_of[p.key] = old.id
                continue
            else:
                summary.updated += 1
                row = {"id": old.id, **row}
            plan.rows.append(row)
            plan.keys.append(p.key)
            plan.accounts[row["onec_key"]] = match.account.id if match.account else None
        return plan

    def _has(self, source: str) -> bool:
        """Whether any stored payment has ``source`` (asked once per run: the look-ups it saves scan)."""
        if source not in self._present:
            self._present[source] = self.writer.any_from(source)
        return self._present[source]

    def _twins(self, payments: Sequence[Payment]) -> dict[str, Stored]:
        """Stored records of the other source that payments without a record of their own join."""
        wanted = [p for p in payments if p.identity and p.source in ("odata", "file")
                  and self._has("file" if p.source == "odata" else "odata")]
        if not wanted:
            return {}
        found = self.writer.by_identity(sorted({p.identity for p in wanted}))
        out: dict[str, Stored] = {}
        for p in wanted:
            for cand in found.get(p.identity, ()):
                v = cand.values
                if cand.id in self._claimed or v.get("twin_key"):
                    continue
                if is_twin(p, str(v.get("source") or ""), str(v.get("payer_account") or ""),
                           str(v.get("payer_bik") or "")):
                    out[p.key] = cand
                    self._claimed.add(cand.id)
                    self._present[BOTH] = True
                    break
        return out

    def _finish(self, plan: _Plan, write: Future[list[str]] | None, next_pos: int, cursor: str | None,
                total: int) -> None:
        """After a batch's write committed: its Tasks, then the cursor past it."""
        if write is not None:
            ids = write.result()
            plan.id_of.update(zip(plan.keys, ids, strict=True))
            self._note_links(plan, add=False)
        if self.opt.create_tasks and plan.unmatched:
            # every unmatched payment without a Task gets one — also one whose Task was lost to a crash
            # between writing the batch and creating its Tasks (the re-run finds the payment unchanged)
            plan.summary.tasks += self._tasks([(plan.id_of[p.key], p, m) for p, m in plan.unmatched])
        if cursor and self.state is not None:
            self.state.set_cursor(cursor, {"next": next_pos, "total": total, "done": next_pos >= total})
        self.progress(plan.size)

    def _note_links(self, plan: _Plan, add: bool) -> None:
        """Note (before the write) or clear (after it) the batch's payments that get an Account link."""
        if not self._track:
            return
        keys = {row["onec_key"] for row in plan.rows} if not add else {
            row["onec_key"] for row in plan.rows if plan.accounts.get(row["onec_key"])}
        before = len(self._relink)
        if add:
            self._relink |= keys
        else:
            self._relink -= keys
        if len(self._relink) != before:
            self.state.kv_set(*LINKS_PENDING, sorted(self._relink))

    def row(self, p: Payment, match: Match) -> dict[str, Any]:
        """The Payments record values for one payment and its match."""
        if p.ignored_reason:
            status, note = IGNORED, p.ignored_reason
        elif match.account is not None:
            status, note = MATCHED, f"matched to {match.account.name} by INN {p.payer_inn}" + (
                f" / KPP {p.payer_kpp}" if len(match.candidates) > 1 else "")
        else:
            status, note = UNMATCHED, match.reason
        owner = (match.account.assigned_user_id if match.account else "") or self._manager(match)
        number, payer_name, purpose = p.number, p.payer_name, p.purpose
        if _UNSTORABLE.search(number + payer_name + purpose):  # one look for the three (rarely true)
            number, payer_name, purpose = storable(number), storable(payer_name), storable(purpose)
        return {
            "name": (p.title() if number is p.number else storable(p.title()))[:255], "onec_key": p.key,
            "payment_number": number[:30], "payment_date": p.date.isoformat(), "amount": f"{p.amount:.2f}",
            "currency": p.currency[:3], "payer_inn": p.payer_inn[:12], "payer_kpp": p.payer_kpp[:9],
            "payer_name": payer_name[:255], "payer_account": p.payer_account[:34],
            "payer_bik": p.payer_bik[:9], "purpose": purpose,
            "status": status, "status_note": note, "source": p.source, "payment_identity": p.identity,
            "twin_key": "", "assigned_user_id": owner,
        }

    def _manager(self, match: Match) -> str:
        if self.opt.task_user_id:
            return self.opt.task_user_id
        for acc in match.candidates:
            if acc.assigned_user_id:
                return acc.assigned_user_id
        return self.opt.default_user_id

    def _tasks(self, items: list[tuple[str, Payment, Match]]) -> int:
        ids = [pid for pid, _, _ in items]
        have: set[str] = set()
        for start in range(0, len(ids), 200):
            part = ids[start:start + 200]
            # deleted Tasks count: a person who deleted one does not want it back on every run
            for rec in self.crm.find("Tasks", all_of(Cond("parent_type", "eq", MODULE),
                                                      Cond("parent_id", "in", part)), fields=["parent_id"],
                                     include_deleted=True):
                have.add(str(rec.get("parent_id")))
        made = 0
        for pid, p, match in items:
            if pid in have:
                continue
            self.crm.save("Tasks", {
                "name": storable(f"Match 1C payment {p.title()}")[:255],
                "description": storable(f"Payer: {p.payer_name or '-'}, INN {p.payer_inn or '-'}, "
                                        f"KPP {p.payer_kpp or '-'}\nWhy unmatched: {match.reason}\n"
                                        f"Purpose: {p.purpose}\n"
                                        f"Link the payment to its Account (or create the Account with this "
                                        f"INN; the next import links it)."),
                "status": "Not Started", "priority": "Medium",
                "parent_type": MODULE, "parent_id": pid,
                "assigned_user_id": self._manager(match),
            })
            made += 1
        return made

    # --- follow-ups ----------------------------------------------------------------------

    def rematch(self) -> ImportSummary:
        """Re-run matching on every stored unmatched payment (links those whose Account now exists)."""
        recs = self.writer.find(Cond("status", "eq", UNMATCHED), ["id", "onec_key", *_PAYMENT_FIELDS])
        payments = [payment_from_record(r) for r in recs]
        return self.run(payments)

    def mark_vanished(self, window_start: dt.date, seen_keys: set[str]) -> int:
        """OData payments dated in the window that 1C no longer returns: mark them ignored with a note."""
        recs = self.writer.find(
            all_of(Cond("source", "eq", "odata"), Cond("payment_date", "gte", window_start),
                   Cond("status", "neq", IGNORED)), ["id", "onec_key"])
        gone = [r.id for r in recs if str(r.get("onec_key")) not in seen_keys]
        if gone:
            self.writer.mark(gone, {"status": IGNORED,
                                    "status_note": "no longer returned by 1C (document deleted in 1C?)"})
        return len(gone)


_PAYMENT_FIELDS = ("source", "payment_number", "payment_date", "amount", "currency", "payer_inn", "payer_kpp",
                   "payer_name", "payer_account", "payer_bik", "purpose", "status", "status_note",
                   "payment_identity", "twin_key")


def payment_from_record(rec: Any) -> Payment:
    """A stored payment record back as a Payment (for re-matching)."""
    date = rec.get("payment_date")
    if not isinstance(date, dt.date):
        date = dt.date.fromisoformat(str(date)[:10])
    ignored = str(rec.get("status_note") or "") if rec.get("status") == IGNORED else ""
    return Payment(
        key=str(rec.get("onec_key")), source=str(rec.get("source") or "file"),  # type: ignore[arg-type]
        number=str(rec.get("payment_number") or ""), date=date,
        amount=Decimal(str(rec.get("amount") or "0")), currency=str(rec.get("currency") or "RUB"),
        payer_inn=str(rec.get("payer_inn") or ""), payer_kpp=str(rec.get("payer_kpp") or ""),
        payer_name=str(rec.get("payer_name") or ""), payer_account=str(rec.get("payer_account") or ""),
        payer_bik=str(rec.get("payer_bik") or ""), purpose=str(rec.get("purpose") or ""),
        ignored_reason=ignored, identity=str(rec.get("payment_identity") or ""))

