"""hello's scene in ``suitecrm-ext demo``: a forbidden name is refused, a new Account is greeted."""

from __future__ import annotations

from suitecrm_ext.demo import DemoScene, DemoStage, Refused


def play(stage: DemoStage) -> None:
    """Max tries ACME (refused by the validation hook), then creates Initech (greeted with a Note)."""
    try:
        stage.save("Accounts", {"name": "ACME"}, user="seed_max_id")
        stage.check(False, "an Account called ACME is refused")
    except Refused as exc:
        stage.say(f"{stage.user_name('seed_max_id')} tries to create ACME: refused — {exc.message}")
    acc = stage.save("Accounts", {"name": "Initech"}, user="seed_max_id")
    notes = [n.get("name") for n in stage.crm.records("Notes") if n.get("parent_id") == acc]
    stage.check(notes == ["Hi, Initech!"], "the new Account was greeted")


def scenes() -> list[DemoScene]:
    """The scene, with the greeting it expects."""
    return [DemoScene("Greeting new accounts", play, settings={"greeting": "Hi"})]
