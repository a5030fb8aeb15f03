"""One payment from two sources: 1C's receipt (OData) and the bank statement's document, kept as one record.

1C and the bank describe the same money with different keys (``odata:<Ref_Key>`` / ``file:<hash>``), so
each source alone would make its own record. The importer looks a payment that has no record under
its own key up by its **identity** (:attr:`Payment.identity`: the payer's order number and date, the
amount, the payer's INN) among the records of the *other* source; when the payer's account and bank
agree where both sides know them (:func:`~.payment.same_payment`), the payment joins that record:

- the record keeps its id and ``onec_key``; the newcomer's key goes into ``twin_key``; ``source``
  becomes ``both``, so a person sees both sources on the record;
- its values are 1C's (OData: the bookkeeping system, also the one that says deleted / not posted),
  fields 1C leaves empty filled from the statement (payer account, bank, KPP, purpose). The same
  end state is reached whichever source comes first, and re-running either finds it unchanged.

A payment already joined (its record has a ``twin_key``) is never joined again: a second 1C document
with the same identity (a statement loaded twice in 1C) stays a record of its own, as it is in 1C.
"""

from __future__ import annotations

import dataclasses

from .payment import Payment, same_payment

#: fields a primary payment leaves empty that its twin may fill
FILLABLE = ("payer_kpp", "payer_name", "payer_account", "payer_bik", "purpose")
BOTH = "both"


def combine(incoming: Payment, stored: Payment) -> Payment:
    """The joined payment: 1C's (OData) values first, the other's filling what 1C leaves empty."""
    primary, secondary = (incoming, stored) if incoming.source == "odata" else (stored, incoming)
    fill = {f: getattr(secondary, f) for f in FILLABLE if not getattr(primary, f) and getattr(secondary, f)}
    return dataclasses.replace(primary, **fill) if fill else primary


def is_twin(incoming: Payment, stored_source: str, stored_account: str, stored_bik: str) -> bool:
    """Whether a stored record of one identity is this payment seen through the other source."""
    if stored_source in ("", BOTH, incoming.source):
        return False
    return same_payment(incoming.payer_account, incoming.payer_bik, stored_account, stored_bik,
                        incoming.payer_inn)
