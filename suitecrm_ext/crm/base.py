"""The CRM interface every transport implements, its record and filter types, and its errors.

Plugins program against :class:`CRM`; the facade (``suitecrm_ext.crm.gateway``) routes each call to
REST v4_1, V8, SOAP or MySQL. ``suitecrm_ext.testing.FakeCRM`` implements the same contract in memory.

Values in a :class:`Record` are normalised the same way by every transport, using the module's field
metadata: ``datetime`` fields are aware UTC ``datetime`` objects, ``date`` fields ``datetime.date``,
``bool`` fields ``bool``, ``int`` fields ``int``; everything else stays a string ("" for empty) —
decimal and currency values too, so no precision is lost on the way through.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# --- errors ----------------------------------------------------------------------------------


class CRMError(Exception):
    """Base of every gateway error. ``transport`` names where it came from (rest, v8, soap, mysql, fake)."""

    def __init__(self, message: str, *, transport: str = "", module: str | None = None):
        super().__init__(message)
        self.transport = transport
        self.module = module


class AuthError(CRMError):
    """Login failed or credentials were refused (bad password, bad client secret, revoked token)."""


class PermissionDenied(CRMError):
    """Authenticated, but the user may not do this (ACL), or the gateway refuses a write it must not do."""


class NotFound(CRMError):
    """The record (or module) does not exist, or is deleted."""


class ValidationError(CRMError):
    """SuiteCRM (or the gateway) refused the values. ``fields`` names the offending fields."""

    def __init__(self, message: str, *, fields: Sequence[str] = (), **kw: Any):
        super().__init__(message, **kw)
        self.fields = list(fields)


#: how the suitecrm-ext logic hook marks a refused save: the error number of REST v4_1 error objects
#: and SOAP faults, and the title (name) of the error in all three APIs (V8: HTTP 422)
REFUSED_NUMBER = 9090
REFUSED_NAME = "Validation Refused"


class ValidationRefused(ValidationError):
    """A logic hook refused the save in ``before_save`` (a plugin's ``ext_validate_record_change``
    veto, or a fail-closed module while the sidecar is down). ``reason`` is the text for the user,
    the same the web UI shows; nothing was written."""

    def __init__(self, message: str, *, reason: str = "", **kw: Any):
        super().__init__(message, **kw)
        self.reason = reason or message


class TransientError(CRMError):
    """A fault that may go away: connection error, timeout, HTTP 5xx, 429. Safe to retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProtocolError(CRMError):
    """The server answered something we do not understand. ``excerpt`` holds the start of the raw body."""

    def __init__(self, message: str, *, excerpt: str = "", **kw: Any):
        super().__init__(f"{message}: {excerpt[:300]!r}" if excerpt else message, **kw)
        self.excerpt = excerpt[:2000]


class Unsupported(CRMError):
    """The transport cannot do this operation (or cannot express this filter)."""


# --- records -----------------------------------------------------------------------------------


@dataclass
class Record:
    """One SuiteCRM record: module name (``Accounts``), id, normalised values, deleted flag."""

    module: str
    id: str
    values: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            return self.id
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Value of a field, or ``default``."""
        if key == "id":
            return self.id
        return self.values.get(key, default)

    @property
    def date_modified(self) -> dt.datetime | None:
        """When SuiteCRM last changed the record (aware UTC), if the field was read."""
        return self.values.get("date_modified")


@dataclass(frozen=True)
class Attachment:
    """The file of a Note: its name, content and MIME type ("" when the transport does not say)."""

    filename: str
    content: bytes
    mime_type: str = ""


@dataclass(frozen=True)
class FieldInfo:
    """Metadata of one field, as ``get_module_fields`` / ``meta/fields`` / vardefs describe it."""

    name: str
    type: str  # SuiteCRM type: varchar, text, int, bool, date, datetime, enum, relate, id, ...
    label: str = ""
    required: bool = False
    options: tuple[str, ...] = ()  # enum / multienum keys
    length: int | None = None
    source: str = ""  # "" (core table), "custom_fields" (<table>_cstm), "non-db"


# --- filters -------------------------------------------------------------------------------

Op = Literal["eq", "neq", "gt", "gte", "lt", "lte", "like", "in", "is_null", "not_null"]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OPS: tuple[str, ...] = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "in", "is_null", "not_null")


@dataclass(frozen=True)
class Cond:
    """One condition: ``field op value``. ``like`` takes SQL wildcards (``%``, ``_``) in ``value``.

    ``in`` takes a sequence; ``is_null`` / ``not_null`` ignore ``value``. Values are plain Python
    values (str, int, bool, date, datetime); the transport escapes and formats them.
    """

    field: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown filter operator {self.op!r}; expected one of {', '.join(OPS)}")
        if not isinstance(self.field, str) or not _IDENT.match(self.field):
            raise ValueError(f"bad field name in filter: {self.field!r}")
        if self.op == "in" and (isinstance(self.value, (str, bytes)) or not isinstance(self.value, Iterable)):
            raise ValueError(f"'in' needs a list of values for field {self.field!r}")


@dataclass(frozen=True)
class Filter:
    """AND / OR of conditions and nested filters."""

    op: Literal["and", "or"]
    items: tuple[Cond | Filter, ...]

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise ValueError(f"filter must be 'and' or 'or', got {self.op!r}")


Where = Cond | Filter | Mapping[str, Any] | None


def all_of(*items: Cond | Filter) -> Filter:
    """AND of conditions."""
    return Filter("and", tuple(items))


def any_of(*items: Cond | Filter) -> Filter:
    """OR of conditions."""
    return Filter("or", tuple(items))


def normalize_where(where: Where) -> Filter | None:
    """Turn the accepted ``where`` shapes into a Filter (or None for "everything").

    A mapping ``{"field": value}`` means AND of equalities.
    """
    if where is None:
        return None
    if isinstance(where, Filter):
        return where
    if isinstance(where, Cond):
        return Filter("and", (where,))
    if isinstance(where, Mapping):
        if not where:
            return None
        return Filter("and", tuple(Cond(k, "eq", v) for k, v in where.items()))
    raise TypeError(f"where must be a Cond, Filter, mapping or None, not {type(where).__name__}")


def iter_conditions(f: Filter | None) -> Iterator[Cond]:
    """Every Cond inside a filter, depth first."""
    if f is None:
        return
    for item in f.items:
        if isinstance(item, Cond):
            yield item
        else:
            yield from iter_conditions(item)


# --- value normalisation ------------------------------------------------------------------

DATETIME_TYPES = {"datetime", "datetimecombo"}
BOOL_TYPES = {"bool"}
INT_TYPES = {"int"}


def parse_datetime(value: Any) -> dt.datetime | None:
    """SuiteCRM datetime → aware UTC datetime. Accepts DB format and ISO 8601 with offset."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    text = str(value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a SuiteCRM datetime: {text!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)  # SuiteCRM stores UTC
    return parsed.astimezone(dt.timezone.utc)


def parse_date(value: Any) -> dt.date | None:
    """SuiteCRM date (``YYYY-MM-DD``) → date."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


def parse_bool(value: Any) -> bool:
    """SuiteCRM bool ("1"/"0", "true"/"false", 1/0) → bool."""
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return False
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def from_crm(ftype: str | None, value: Any) -> Any:
    """Normalise one raw value from a transport by its SuiteCRM field type."""
    if ftype in DATETIME_TYPES:
        return parse_datetime(value)
    if ftype == "date":
        return parse_date(value)
    if ftype in BOOL_TYPES:
        return parse_bool(value)
    if ftype in INT_TYPES:
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if value is None:
        return ""
    return value


def to_crm(value: Any) -> Any:
    """A Python value → what SuiteCRM's APIs and DB take (DB datetime format in UTC, "1"/"0")."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def normalize_values(values: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """Apply :func:`from_crm` to every value, by the field's type (unknown fields: well-known names)."""
    out: dict[str, Any] = {}
    for name, raw in values.items():
        info = fields.get(name)
        ftype = info.type if info else GUESSED_TYPES.get(name)
        out[name] = from_crm(ftype, raw)
    return out


#: Field types assumed for the stamped fields when no metadata names them.
GUESSED_TYPES = {"date_entered": "datetime", "date_modified": "datetime", "deleted": "bool"}


# --- the interface -------------------------------------------------------------------------


class CRM(abc.ABC):
    """What a plugin may ask of SuiteCRM. Every transport and the facade implement it.

    ``capabilities`` names the operations a transport supports; an unsupported call raises
    :class:`Unsupported`. All methods raise the typed errors of this module, never a transport's
    own exception types. Besides the method names, a transport may declare these features:

    ``include_deleted`` (find/count can list soft-deleted rows), ``filter_in``, ``filter_null``,
    ``filter_nested`` (AND inside OR and so on), ``order_multi`` (several sort fields),
    ``datetime_seconds`` (datetimes keep their seconds; V8 truncates them to :00),
    ``batch_save`` (save_many is one request per batch), ``server_version``, ``nul_values``
    (a NUL character survives a round trip), ``create_with_id`` (:meth:`create` takes the caller's
    id), ``attachments`` (:meth:`get_attachment` / :meth:`set_attachment` on Notes).
    """

    name: str = "crm"
    capabilities: frozenset[str] = frozenset(
        {"get", "find", "count", "save", "save_many", "delete", "relate", "unrelate", "related",
         "fields", "modules"}
    )

    @abc.abstractmethod
    def get(self, module: str, id: str, fields: Sequence[str] | None = None) -> Record:
        """One record by id. Raises NotFound when it does not exist or is deleted."""

    @abc.abstractmethod
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
        """Records matching ``where``, paging transparently. ``order`` is field names, ``-name`` for DESC."""

    @abc.abstractmethod
    def count(self, module: str, where: Where = None, *, include_deleted: bool = False) -> int:
        """How many records match."""

    @abc.abstractmethod
    def save(self, module: str, values: Mapping[str, Any]) -> str:
        """Create (no ``id`` in values) or update (``id`` given) a record; returns its id.

        Creating retries safely: the transport picks the new id itself and sends it, so a retry after
        a lost answer updates the same record instead of creating a second one.
        """

    def save_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Save several records (batched where the transport can); returns their ids in order."""
        return [self.save(module, row) for row in rows]

    def create(self, module: str, values: Mapping[str, Any], *, id: str) -> str:
        """Create a record under an id the caller chose (and kept, e.g. in an id map, beforehand).

        Repeating it is safe: when a live record with that id exists already (a create that went
        through before a crash), it is updated with ``values`` instead, so there is never a second
        record. NotFound when the id belongs to a deleted record; ValidationError when ``id`` is not
        a SuiteCRM id (36 characters, ``8-4-4-4-12`` hex; ``suitecrm_ext.new_guid()`` makes one).
        Capability ``create_with_id`` (REST, SOAP, FakeCRM; V8 refuses client ids).
        """
        raise Unsupported(f"{self.name} transport cannot create with a client-chosen id",
                          transport=self.name, module=module)

    def create_many(self, module: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """:meth:`create` for several rows, each with its ``id`` (batched where the transport can: REST
        ``set_entries``). Repeat-safe like ``create``; returns the ids in order. Capability
        ``create_with_id``."""
        out = []
        for row in rows:
            values = {k: v for k, v in row.items() if k != "id"}
            out.append(self.create(module, values, id=row.get("id")))  # type: ignore[arg-type]
        return out

    def get_attachment(self, note_id: str) -> Attachment | None:
        """The file attached to a Note (None when it has none). NotFound when there is no such Note.
        Capability ``attachments``."""
        raise Unsupported(f"{self.name} transport cannot read attachments", transport=self.name,
                          module="Notes")

    def set_attachment(self, note_id: str, filename: str, content: bytes) -> None:
        """Attach a file to an existing Note (replacing its file; SuiteCRM sets ``filename`` and
        ``file_mime_type`` and saves the Note). NotFound when there is no such Note.
        Capability ``attachments``."""
        raise Unsupported(f"{self.name} transport cannot write attachments", transport=self.name,
                          module="Notes")

    @abc.abstractmethod
    def delete(self, module: str, id: str) -> None:
        """Soft-delete a record (``deleted=1``), as SuiteCRM does. NotFound if it does not exist."""

    @abc.abstractmethod
    def relate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Add relationship rows through the bean's link field ``link``. Relating twice is harmless."""

    @abc.abstractmethod
    def unrelate(self, module: str, id: str, link: str, other_ids: Sequence[str]) -> None:
        """Remove relationship rows (soft delete in SuiteCRM)."""

    @abc.abstractmethod
    def related(
        self, module: str, id: str, link: str, fields: Sequence[str] | None = None
    ) -> Iterator[Record]:
        """Records related to ``module/id`` through ``link``."""

    @abc.abstractmethod
    def fields(self, module: str) -> dict[str, FieldInfo]:
        """Field metadata of a module (cached by transports)."""

    @abc.abstractmethod
    def modules(self) -> list[str]:
        """Module names the user can access."""

    def server_info(self) -> dict[str, Any]:
        """What the server says about itself (version, flavour); {} when the transport cannot tell."""
        return {}

    def close(self) -> None:
        """Release sessions and connections (logout where the API has one)."""
        return None

    def __enter__(self) -> CRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise Unsupported(f"{self.name} transport does not support {capability}", transport=self.name)
