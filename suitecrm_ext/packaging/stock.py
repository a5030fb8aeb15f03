"""What the package builder knows about SuiteCRM 7's stock modules.

For each stock module a schema may relate to or add custom fields to: the bean class (``bean_name`` of
links) and the key of ``$dictionary`` (the same but for Cases: ``aCase`` / ``Case``), the table, and the
plural labels (en_us, ru_ru) used as default subpanel titles. Values are SuiteCRM 7.14's own
(``include/modules.php`` ``$beanList``, the beans' ``$table_name``, the modules' vardefs.php).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StockModule:
    """A module that ships with SuiteCRM 7."""

    name: str
    object_name: str
    table: str
    label_en: str
    label_ru: str
    #: the field holding the record's display name (``rname`` of relate fields pointing at it)
    rname: str = "name"
    #: person-like modules have no ``name`` column: relate fields concatenate first and last name
    person: bool = False
    #: the key of ``$dictionary`` when it differs from the bean class (Cases: class aCase, dictionary Case)
    dictionary: str = ""

    @property
    def dictionary_key(self) -> str:
        """The ``$dictionary`` key of the module's vardefs."""
        return self.dictionary or self.object_name


STOCK_MODULES: dict[str, StockModule] = {
    m.name: m
    for m in (
        StockModule("Accounts", "Account", "accounts", "Accounts", "Контрагенты"),
        StockModule("Contacts", "Contact", "contacts", "Contacts", "Контакты", person=True),
        StockModule("Leads", "Lead", "leads", "Leads", "Предварительные контакты", person=True),
        StockModule("Opportunities", "Opportunity", "opportunities", "Opportunities", "Сделки"),
        StockModule("Cases", "aCase", "cases", "Cases", "Обращения", dictionary="Case"),
        StockModule("Documents", "Document", "documents", "Documents", "Документы", rname="document_name"),
        StockModule("Tasks", "Task", "tasks", "Tasks", "Задачи"),
        StockModule("Notes", "Note", "notes", "Notes", "Заметки"),
        StockModule("Calls", "Call", "calls", "Calls", "Звонки"),
        StockModule("Meetings", "Meeting", "meetings", "Meetings", "Встречи"),
        StockModule("Emails", "Email", "emails", "Emails", "E-mail"),
        StockModule("Users", "User", "users", "Users", "Пользователи", person=True),
        StockModule("Project", "Project", "project", "Projects", "Проекты"),
        StockModule("Campaigns", "Campaign", "campaigns", "Campaigns", "Маркетинговые кампании"),
        StockModule(
            "SecurityGroups", "SecurityGroup", "securitygroups", "Security Groups", "Группы пользователей"
        ),
        StockModule("AOS_Quotes", "AOS_Quotes", "aos_quotes", "Quotes", "Коммерческие предложения"),
        StockModule("AOS_Invoices", "AOS_Invoices", "aos_invoices", "Invoices", "Счета"),
        StockModule("AOS_Contracts", "AOS_Contracts", "aos_contracts", "Contracts", "Контракты"),
        StockModule("AOS_Products", "AOS_Products", "aos_products", "Products", "Товары"),
        StockModule("AOP_Case_Updates", "AOP_Case_Updates", "aop_case_updates", "Case Updates",
                    "Обновления обращений"),
    )
}
