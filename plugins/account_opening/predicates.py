"""The checks the application flow may name (``check: [...]`` in flow.yaml) and the effects it may run.

Effects are the core's (``notify``, ``set``: suitecrm_ext.workflow.effects) plus ``open_account``, which
handlers.py binds to the application desk for each event.

A check gets the :class:`~suitecrm_ext.workflow.Facts` of the change; what it needs from SuiteCRM (the
client's requisites, the bank's numbering) it asks the :class:`~plugins.account_opening.desk.ApplicationDesk`
that the plugin puts into ``facts.extra["desk"]``. Each returns True or the reason it does not pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suitecrm_ext.workflow import Effects, Facts, Predicates, Templates

#: the field a reviewer writes their decision's comment into
COMMENT_FIELD = "decision_comment"
TEMPLATES_FILE = Path(__file__).with_name("templates.yaml")

PREDICATES = Predicates()


def _not_bound(ctx, **args):  # pragma: no cover - handlers.py registers the real one per event
    raise RuntimeError("open_account runs only through ApplicationEvents")


#: effects of the flow (names and arguments checked when the config is loaded): the core's notify and set,
#: and open_account (the account number and opening date, handlers.py)
EFFECTS = Effects(templates=Templates.from_file(TEMPLATES_FILE))
EFFECTS.register("open_account", _not_bound)


def _desk(facts: Facts) -> Any:
    desk = facts.extra.get("desk")
    if desk is None:
        raise RuntimeError("the application desk is not available to the check")
    return desk


def requisites_complete(facts: Facts) -> bool | str:
    """The client (Account) is set and its requisites are complete and valid; a card holder (Contact) for a
    card-issue application has their passport data."""
    return _desk(facts).requisites_verdict(facts)


def comment_given(facts: Facts) -> bool | str:
    """A return or rejection says why: the decision comment is filled in with this change."""
    new = " ".join(str(facts.value(COMMENT_FIELD) or "").split())
    old = " ".join(str(facts.old(COMMENT_FIELD) or "").split())
    if new and (facts.before is None or new != old):
        return True
    return "write the reason into the decision comment (field decision_comment) with this change"


def can_open(facts: Facts) -> bool | str:
    """An account can be numbered (bank BIK, balance account for the account type and client, currency) or,
    for a card, the card account is one of the client's opened accounts at this bank."""
    return _desk(facts).opening_verdict(facts)


PREDICATES.register("requisites_complete", requisites_complete, args=())
PREDICATES.register("comment_given", comment_given, args=())
PREDICATES.register("can_open", can_open, args=())

__all__ = ["COMMENT_FIELD", "EFFECTS", "PREDICATES"]
