"""What FakeCRM stores: its modules' rows, relationship rows and the stock module/link declarations.

:class:`~suitecrm_ext.crm.fake.FakeCRM` keeps one :class:`StoredModule` per module and one
:class:`Relationship` per declared link pair; :data:`STOCK_LINKS` lists the stock SuiteCRM links it declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext.crm.base import FieldInfo

#: Fields every module has, added by :meth:`FakeCRM.add_module` when missing (SuiteCRM's "basic" template).
BASIC_FIELDS: tuple[FieldInfo, ...] = (
    FieldInfo("id", "id", "ID", required=True),
    FieldInfo("name", "name", "Name", length=255),
    FieldInfo("date_entered", "datetime", "Date Created"),
    FieldInfo("date_modified", "datetime", "Date Modified"),
    FieldInfo("modified_user_id", "assigned_user_name", "Modified By"),
    FieldInfo("created_by", "assigned_user_name", "Created By"),
    FieldInfo("description", "text", "Description"),
    FieldInfo("deleted", "bool", "Deleted"),
    FieldInfo("assigned_user_id", "relate", "Assigned User"),
)

#: Fields the fake stamps itself on every write; :meth:`FakeCRM.add_fields` cannot redefine them.
STAMPED_FIELDS = frozenset({"id", "deleted", "date_entered", "date_modified", "created_by",
                             "modified_user_id"})

#: Stock links: (module, link, other module, other link, one_to_many, id field on the "many" side).
#: ``one_to_many`` means each record of the other module has at most one partner through this link.
STOCK_LINKS: tuple[tuple[str, str, str, str, bool, str | None], ...] = (
    ("Accounts", "contacts", "Contacts", "accounts", False, None),
    ("Accounts", "cases", "Cases", "accounts", True, "account_id"),
    ("Accounts", "members", "Accounts", "member_of", True, "parent_id"),
    ("Accounts", "documents", "Documents", "accounts", False, None),
    ("Accounts", "tasks", "Tasks", "accounts", True, None),
    ("Accounts", "notes", "Notes", "accounts", True, None),
    ("Accounts", "emails", "Emails", "accounts", False, None),
    ("Accounts", "SecurityGroups", "SecurityGroups", "accounts", False, None),
    ("Contacts", "cases", "Cases", "contacts", False, None),
    ("Contacts", "documents", "Documents", "contacts", False, None),
    ("Contacts", "tasks", "Tasks", "contacts", True, "contact_id"),
    ("Contacts", "notes", "Notes", "contacts", True, "contact_id"),
    ("Contacts", "emails", "Emails", "contacts", False, None),
    ("Contacts", "SecurityGroups", "SecurityGroups", "contacts", False, None),
    ("Cases", "documents", "Documents", "cases", False, None),
    ("Cases", "tasks", "Tasks", "cases", True, None),
    ("Cases", "notes", "Notes", "cases", True, None),
    ("Cases", "emails", "Emails", "cases", False, None),
    ("Cases", "SecurityGroups", "SecurityGroups", "cases", False, None),
    ("Documents", "SecurityGroups", "SecurityGroups", "documents", False, None),
    ("Notes", "SecurityGroups", "SecurityGroups", "notes", False, None),
    ("Tasks", "notes", "Notes", "tasks", True, None),
    ("Users", "SecurityGroups", "SecurityGroups", "users", False, None),
    ("Users", "aclroles", "ACLRoles", "users", False, None),
    ("SecurityGroups", "aclroles", "ACLRoles", "SecurityGroups", False, None),
    ("Users", "reportees", "Users", "reports_to_link", True, "reports_to_id"),
    ("Accounts", "opportunities", "Opportunities", "accounts", True, "account_id"),
    ("Contacts", "opportunities", "Opportunities", "contacts", False, None),
    ("Opportunities", "tasks", "Tasks", "opportunities", True, None),
    ("Opportunities", "notes", "Notes", "opportunities", True, None),
    ("Opportunities", "emails", "Emails", "opportunities", False, None),
    ("Accounts", "aos_invoices", "AOS_Invoices", "accounts", True, "billing_account_id"),
    ("Contacts", "aos_invoices", "AOS_Invoices", "contacts", True, "billing_contact_id"),
    ("Opportunities", "SecurityGroups", "SecurityGroups", "opportunities", False, None),
    ("AOS_Invoices", "SecurityGroups", "SecurityGroups", "aos_invoices", False, None),
    ("AOS_Products", "SecurityGroups", "SecurityGroups", "aos_products", False, None),
)


@dataclass
class StoredModule:
    """One module: its fields, vardef defaults and every row (deleted ones included)."""

    name: str
    table: str
    fields: dict[str, FieldInfo]
    defaults: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> values (incl. deleted)


@dataclass
class Relationship:
    """Rows of one relationship between ``lhs`` and ``rhs`` records; value = deleted flag."""

    name: str
    lhs_module: str
    rhs_module: str
    one_to_many: bool
    rhs_id_field: str | None
    rows: dict[tuple[str, str], bool] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkEnd:
    """One side of a relationship, as a module's link reaches it."""

    rel: Relationship
    is_lhs: bool  # this module is the relationship's lhs side

    @property
    def other_module(self) -> str:
        return self.rel.rhs_module if self.is_lhs else self.rel.lhs_module


__all__ = ["BASIC_FIELDS", "STAMPED_FIELDS", "STOCK_LINKS", "LinkEnd", "Relationship", "StoredModule"]
