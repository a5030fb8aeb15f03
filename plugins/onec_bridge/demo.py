"""onec_bridge's scene in ``suitecrm-ext demo``: a 1C bank statement imported and matched by INN.

The bank-client export (1CClientBankExchange, windows-1251) lands in the statement inbox; the
``onec-import`` job imports it, links each incoming payment to the Account with the payer's INN and
parks the payment it cannot match with a Task; once the Account gets its INN, the next run links it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suitecrm_ext import FieldInfo
from suitecrm_ext.demo import DEMO_ACCOUNTS, DemoScene, DemoStage, install_plugin_schema

from .synthetic import make_statement
from .writers import LINK, MODULE

INBOX = "1c-inbox"
#: the accounts whose INN/KPP are in the CRM from the start; the third payer's Account gets its INN later
KNOWN = ("demo-acc-romashka", "demo-acc-vostok")
LATE = "demo-acc-neva"


def settings(workdir: Path) -> dict[str, Any]:
    """The job reads statements dropped into the demo's inbox."""
    return {"statement_dir": str(workdir / INBOX)}


def setup(crm: Any, workdir: Path) -> None:
    """The Payments module (the plugin's package) and Accounts' INN/KPP fields (account_opening's)."""
    from plugins.onec_bridge import plugin

    crm.add_fields("Accounts", [FieldInfo("ao_inn_c", "varchar", "INN", length=12, source="custom_fields"),
                                FieldInfo("ao_kpp_c", "varchar", "KPP", length=9, source="custom_fields")])
    install_plugin_schema(crm, plugin)
    for aid in KNOWN:
        crm.save("Accounts", {"id": aid, "ao_inn_c": DEMO_ACCOUNTS[aid]["inn"],
                              "ao_kpp_c": DEMO_ACCOUNTS[aid]["kpp"]})
    (workdir / INBOX).mkdir(parents=True, exist_ok=True)


def _counts(summary: str) -> dict[str, int]:
    """A job run's summary line (``new=3, matched=2, ...``) as counts."""
    out = {}
    for item in summary.split(", "):
        key, _, value = item.partition("=")
        if value.isdigit():
            out[key] = int(value)
    return out


def _payments(stage: DemoStage) -> list[Any]:
    return [p for p in stage.crm.records(MODULE) if not p.get("deleted")]


def play(stage: DemoStage) -> None:
    """Import, match by INN, park the unknown payer, link it once its Account has the INN."""
    payers = [DEMO_ACCOUNTS[a]["inn"] for a in (*KNOWN, LATE)]
    inbox = stage.workdir / INBOX
    (inbox / "kl_to_1c.txt").write_bytes(make_statement(3, payers, outgoing_every=3))
    stage.say("the bank-client exports a statement to the 1C inbox: 3 incoming payments and 1 outgoing "
              "(1CClientBankExchange, windows-1251)")
    outcome = stage.run_job("onec-import")
    found = _counts(outcome.summary)
    stage.say(f"job onec-import: {outcome.status}: {found.get('new', 0)} new, {found.get('matched', 0)} "
              f"matched by INN, {found.get('unmatched', 0)} unmatched, {found.get('skipped', 0)} outgoing "
              f"skipped, {found.get('tasks', 0)} Task(s) to match by hand")
    stage.check(outcome.status == "ok" and found.get("new") == 3, "3 payments are in the CRM")
    for aid in KNOWN:
        linked = list(stage.crm.related("Accounts", aid, LINK))
        stage.say(f"  {DEMO_ACCOUNTS[aid]['name']}: "
                  + ", ".join(f"payment {p.get('payment_number')} of {p.get('amount')} RUB" for p in linked))
        stage.check(len(linked) == 1, f"{DEMO_ACCOUNTS[aid]['name']} shows its payment")
    parked = [p for p in _payments(stage) if p.get("status") == "unmatched"]
    stage.check(len(parked) == 1, f"the payment of INN {DEMO_ACCOUNTS[LATE]['inn']} is parked: no Account "
                "has that INN")
    stage.check((inbox / "imported" / "kl_to_1c.txt").exists(), "the statement file moved to imported/")

    acc = DEMO_ACCOUNTS[LATE]
    stage.save("Accounts", {"id": LATE, "ao_inn_c": acc["inn"], "ao_kpp_c": acc["kpp"]},
               user=acc["assigned_user_id"])
    stage.say(f"{stage.user_name(acc['assigned_user_id'])} fills in the INN of {acc['name']}")
    again = stage.run_job("onec-import")
    rematched = _counts(again.summary).get("rematched", 0)
    stage.say(f"the next run of onec-import re-matches {rematched} payment(s)")
    linked = list(stage.crm.related("Accounts", LATE, LINK))
    stage.check(len(linked) == 1, f"{acc['name']} shows its payment now")


def scenes() -> list[DemoScene]:
    """The scene."""
    # account_opening's package brings the INN/KPP fields on Accounts that the matching reads (setup adds
    # them to the FakeCRM; init installs that package on a real SuiteCRM, without enabling the plugin)
    return [DemoScene("A bank statement from 1C is imported and matched by INN", play, setup=setup,
                      settings=settings, packages=("account_opening",))]
