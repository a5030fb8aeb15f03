"""The demo's data: SuiteCRM's own demo users (same ids) and a few counterparties with valid INNs."""

from __future__ import annotations

from typing import Any

#: user id -> (first name, last name, user name): the users of SuiteCRM's demo data
DEMO_USERS: dict[str, tuple[str, str, str]] = {
    "1": ("", "Administrator", "admin"),
    "seed_sally_id": ("Sally", "Bronsen", "sally"),
    "seed_max_id": ("Max", "Jensen", "max"),
    "seed_chris_id": ("Chris", "Olliver", "chris"),
    "seed_will_id": ("Will", "Westin", "will"),
    "seed_sarah_id": ("Sarah", "Smith", "sarah"),
    "seed_jim_id": ("Jim", "Brennan", "jim"),
}

#: account id -> fields; ``inn``/``kpp`` are for scenes that add those fields (they are not stock)
DEMO_ACCOUNTS: dict[str, dict[str, Any]] = {
    "demo-acc-romashka": {"name": "OOO Romashka", "billing_address_city": "Moscow", "inn": "7704123450",
                          "kpp": "770401001", "assigned_user_id": "seed_sally_id"},
    "demo-acc-vostok": {"name": "AO Vostok Logistics", "billing_address_city": "Khimki", "inn": "5003987659",
                        "kpp": "500301001", "assigned_user_id": "seed_max_id"},
    "demo-acc-neva": {"name": "OOO Neva Trade", "billing_address_city": "Saint Petersburg",
                      "inn": "7812345675", "kpp": "781201001", "assigned_user_id": "seed_will_id"},
    "demo-acc-ural": {"name": "OOO Ural Steel Service", "billing_address_city": "Yekaterinburg",
                      "inn": "6602555120", "kpp": "660201001", "assigned_user_id": "seed_sarah_id"},
}

STOCK_ACCOUNT_FIELDS = ("name", "billing_address_city", "assigned_user_id")


def seed(crm: Any) -> None:
    """Add the demo users and accounts to a FakeCRM (accounts without INN/KPP: not stock fields)."""
    for uid, (first, last, user_name) in DEMO_USERS.items():
        values = {"id": uid, "user_name": user_name, "first_name": first, "last_name": last,
                  "email1": f"{user_name}@example.com", "status": "Active", "is_admin": uid == "1"}
        if crm.exists("Users", uid):  # FakeCRM starts with the admin user, as SuiteCRM does
            crm.save("Users", values)
        else:
            crm.insert("Users", values)
    for aid, acc in DEMO_ACCOUNTS.items():
        crm.insert("Accounts", {"id": aid, **{k: acc[k] for k in STOCK_ACCOUNT_FIELDS}})


def user_name(uid: str | None) -> str:
    """``Sally Bronsen`` for a demo user id (the id itself when unknown)."""
    if uid in DEMO_USERS:
        first, last, _ = DEMO_USERS[uid]
        return f"{first} {last}".strip()
    return str(uid)
