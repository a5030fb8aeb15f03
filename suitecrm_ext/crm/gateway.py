"""The gateway facade: one CRM that routes each call to the configured transport.

Routing (``suitecrm:`` section of the config):

- **writes** (``save``, ``save_many``, ``delete``, ``relate``, ``unrelate``) go to the API transport named
  by ``write_via`` (``rest`` | ``v8`` | ``soap``), so SuiteCRM's logic hooks, workflows and audit run;
- **record reads** (``get``, ``find``, ``count``, ``related``) go to MySQL when ``read_via: mysql``, else
  to the write transport. A read MySQL cannot serve (it raises :class:`Unsupported`) falls back to the
  API; any other error is reported as it is (a silent fallback would hide a misconfiguration);
- **metadata** (``fields``, ``modules``, ``server_info``) comes from the API: labels, dropdown options and
  link names live in SuiteCRM's vardefs, not in the database;
- :meth:`Gateway.owned_writer` hands out MySQL's writer for sidecar/plugin-owned tables (needs a
  ``suitecrm.mysql`` section).

Only the configured transports are built; connections are opened on first use. ``suitecrm_ext.doctor``
checks each configured transport through :func:`build_transport` (this module knows nothing of the doctor).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from suitecrm_ext.crm.base import (
    CRM,
    Attachment,
    FieldInfo,
    Record,
    Unsupported,
    Where,
)

if TYPE_CHECKING:
    from suitecrm_ext.config import SuiteCRMSettings
    from suitecrm_ext.crm.mysql import MySQLCRM, OwnedTableWriter

#: transport name → (module, class); imported only when configured
TRANSPORTS: dict[str, tuple[str, str]] = {
    "rest": ("suitecrm_ext.crm.rest_v4", "RestV4CRM"),
    "v8": ("suitecrm_ext.crm.v8", "V8CRM"),
    "soap": ("suitecrm_ext.crm.soap", "SoapCRM"),
    "mysql": ("suitecrm_ext.crm.mysql", "MySQLCRM"),
}
API_TRANSPORTS = ("rest", "v8", "soap")
READS = ("get", "find", "count", "related")
#: capabilities only the writer can give (save_many batching, NUL surviving a write, server_info())
_WRITER_FEATURES = frozenset({"batch_save", "nul_values", "server_version", "create_with_id", "attachments"})


class Gateway(CRM):
    """The CRM facade plugins get as ``ctx.crm``. See the module docstring for the routing rules.

    ``writer`` is the API transport for writes (and metadata); ``reader`` the transport for record reads
    (None: the writer); ``mysql`` the MySQL transport when configured (for :meth:`owned_writer`).
    """

    name = "gateway"

    def __init__(self, writer: CRM, reader: CRM | None = None, *, mysql: MySQLCRM | None = None):
        self.writer = writer
        self.reader = reader
        self.mysql = mysql
        # reads may be served by either; what depends on writing or on server_info() is the writer's alone
        read_caps = (reader.capabilities - _WRITER_FEATURES) if reader else frozenset()
        self.capabilities = frozenset(writer.capabilities | read_caps)

    def __repr__(self) -> str:
        return f"Gateway(writer={self.writer!r}, reader={self.reader!r})"

    @property
    def transports(self) -> dict[str, CRM]:
        """The transports in use, by name."""
        out = {self.writer.name: self.writer}
        for t in (self.reader, self.mysql):
            if t is not None:
                out[t.name] = t
        return out

    def _read(self, op: str, *args: Any, **kwargs: Any) -> Any:
        reader = self.reader
        if reader is not None and op in reader.capabilities:
            try:
                return getattr(reader, op)(*args, **kwargs)
            except Unsupported:
                pass  # e.g. a filter MySQL cannot express: the API can
        return getattr(self.writer, op)(*args, **kwargs)

    # --- reads ---------------------------------------------------------------------------

    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """One record (reader, else the API)."""
        return self._read("get", module, id, fields)

    def find(
        self,
        module: str,
        where: Where = None,
        fields: Sequence[str] | None = None,
        order: Sequence[str] | str | None = None,
        limit: int | None = None,
        *,
        include_deleted: bool = False,
    ) -> Iterator[Record]:
        """Matching records, paged by the reader (keyset on MySQL) or the API."""
        return self._read("find", module, where, fields, order, limit, include_deleted=include_deleted)

    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """How many records match."""
        return self._read("count", module, where, include_deleted=include_deleted)

    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Related records (MySQL reads SuiteCRM's relationships metadata; else the API's link)."""
        return self._read("related", module, id, link, fields)

    def fields(self, module: str) -> dict[str, FieldInfo]:
        """Field metadata, from the API (vardefs: labels, options)."""
        return self.writer.fields(module)

    def modules(self) -> list[str]:
        """Modules the API user can access."""
        return self.writer.modules()

    def server_info(self) -> dict[str, Any]:
        """What the API server says about itself."""
        return self.writer.server_info()

    # --- writes --------------------------------------------------------------------------

    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create or update through the write API."""
        return self.writer.save(module, values)

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Batched save through the write API."""
        return self.writer.save_many(module, rows)

    def create(self, module: str, values: Mapping[str, Any], *, id: str) -> str:
        """Create under a client-chosen id through the write API (see ``CRM.create``)."""
        return self.writer.create(module, values, id=id)

    def create_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Batched create under client-chosen ids through the write API."""
        return self.writer.create_many(module, rows)

    def get_attachment(self, note_id: str) -> Attachment | None:
        """A Note's file, through the write API (files are not in the database)."""
        return self.writer.get_attachment(note_id)

    def set_attachment(self, note_id: str, filename: str, content: bytes) -> None:
        """Attach a file to a Note through the write API."""
        self.writer.set_attachment(note_id, filename, content)

    def delete(self, module: str, id: str) -> None:
        """Soft delete through the write API."""
        self.writer.delete(module, id)

    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Add relationship rows through the write API."""
        self.writer.relate(module, id, link, other_ids)

    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Remove relationship rows through the write API."""
        self.writer.unrelate(module, id, link, other_ids)

    def owned_writer(self, owned_tables: Iterable[str], *, chunk_size: int = 500) -> OwnedTableWriter:
        """MySQL writer for sidecar/plugin-owned tables (see ``MySQLCRM.owned_writer``)."""
        if self.mysql is None:
            raise Unsupported("writing plugin-owned tables needs direct MySQL access: configure "
                              "suitecrm.mysql", transport=self.name)
        return self.mysql.owned_writer(owned_tables, chunk_size=chunk_size)

    def close(self) -> None:
        """Close every transport (logout where the API has one)."""
        for t in self.transports.values():
            t.close()


# --- building ----------------------------------------------------------------------------------


def configured(s: SuiteCRMSettings) -> list[str]:
    """Names of the transports with an enabled section, in the order rest, v8, soap, mysql."""
    return [n for n in (*API_TRANSPORTS, "mysql") if (sec := getattr(s, n)) is not None and sec.enabled]


def build_transport(s: SuiteCRMSettings, name: str, **kwargs: Any) -> CRM:
    """One transport from its config section (imported on demand)."""
    module, cls = TRANSPORTS[name]
    klass = getattr(importlib.import_module(module), cls)
    if name == "mysql":
        return klass.from_settings(s.mysql, retries=s.retries)
    return klass.from_settings(s, **kwargs)


def build_gateway(s: SuiteCRMSettings) -> Gateway:
    """The facade over the configured transports. ConfigError when ``write_via``/``read_via`` name a
    transport that is not configured (``config check`` reports the same with the file line)."""
    from suitecrm_ext.config import ConfigError

    have = configured(s)
    if s.write_via not in have:
        raise ConfigError([
            f"suitecrm.write_via: {s.write_via!r} is not configured: add an enabled suitecrm.{s.write_via}: "
            f"section (configured: {', '.join(have) or 'none'})"])
    if s.read_via == "mysql" and "mysql" not in have:
        raise ConfigError(["suitecrm.read_via: 'mysql' needs an enabled suitecrm.mysql: section"])
    writer = build_transport(s, s.write_via)
    mysql = build_transport(s, "mysql") if "mysql" in have else None
    return Gateway(writer, mysql if s.read_via == "mysql" else None, mysql=mysql)  # type: ignore[arg-type]
