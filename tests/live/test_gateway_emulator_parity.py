"""The emulators and the real SuiteCRM 7.14.6 answer the same calls the same way.

The same calls go to the REST v4_1 and V8 emulators (tests/crm/emulators/, data in a FakeCRM) and to
the real instance; the raw answers (what the API puts on the wire) and the records the transports make
of them must agree. These are the places the emulators were wrong before the live layer: text through
``to_html()``, what SuiteCRM stores for entities and padded names, ordering, errors.
"""

from __future__ import annotations

import pytest
import responses
from crm.emulators.rest import RestV4Emulator
from crm.emulators.v8 import V8Emulator

from suitecrm_ext.crm.base import Cond, NotFound, ValidationError
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.crm.v8 import V8CRM

EMU = "http://suitecrm.emulated"
TEXTS = ["O'Brien", 'say "hi"', "AT&T <b>bold</b> 5 > 3", "&amp; <b>x</b> &#039;", "  padded  ",
         "Ромашка «Лютик» №1", "5 &lt; 6 &amp;amp; &copy;", "back\\slash", "tab\there", "100% _sure_"]


@pytest.fixture
def pair(live_lab):
    """(real REST, emulated REST, real V8, emulated V8); the emulators share one FakeCRM."""
    store = FakeCRM()
    with responses.RequestsMock(assert_all_requests_are_fired=False,
                                passthru_prefixes=(live_lab.url,)) as rsps:
        RestV4Emulator(store, base_url=EMU, username="admin", password="pw").install(rsps)
        v8_emu = V8Emulator(store, base_url=EMU).install(rsps)
        clients = (live_lab.transport("rest"), RestV4CRM(EMU, "admin", "pw"), live_lab.transport("v8"),
                   V8CRM(EMU, v8_emu.client_id, v8_emu.client_secret, clock=v8_emu.clock))
        try:
            yield clients
        finally:
            for c in clients:
                c.close()


def raw_rest(crm: RestV4CRM, rid: str) -> dict:
    nvl = crm._call("get_entry", ["Accounts", rid, ["name", "description"], [], False])  # noqa: SLF001
    return {k: v["value"] for k, v in nvl["entry_list"][0]["name_value_list"].items() if k != "id"}


def raw_v8(crm: V8CRM, rid: str) -> dict:
    data, _ = crm._api("GET", f"module/Accounts/{rid}", params={"fields[Accounts]": "name,description"})  # noqa: SLF001
    return data["data"]["attributes"]


def test_the_same_saves_read_back_the_same(pair, run_tag):
    real, emu, real_v8, emu_v8 = pair
    made = []
    try:
        for text in TEXTS:
            values = {"name": f"{run_tag}q {text}", "description": text}
            rid_real, rid_emu = real.save("Accounts", values), emu.save("Accounts", values)
            made.append(rid_real)
            assert raw_rest(emu, rid_emu) == raw_rest(real, rid_real), text
            assert raw_v8(emu_v8, rid_emu) == raw_v8(real_v8, rid_real), text
            for a, b in ((real, emu), (real_v8, emu_v8)):
                assert a.get("Accounts", rid_real, ["name", "description"]).values == \
                    b.get("Accounts", rid_emu, ["name", "description"]).values, text
        mine = Cond("name", "like", f"{run_tag}q %")
        for a, b in ((real, emu), (real_v8, emu_v8)):
            for order in ("name", "-name"):
                assert [r["name"] for r in a.find("Accounts", mine, ["name"], order=order)] == \
                    [r["name"] for r in b.find("Accounts", mine, ["name"], order=order)], order
            assert a.count("Accounts", mine) == b.count("Accounts", mine) == len(TEXTS)
    finally:
        for rid in made:
            real.delete("Accounts", rid)


def test_the_same_mistakes_get_the_same_errors(pair):
    for crm in pair:
        with pytest.raises(NotFound):
            crm.get("Accounts", "00000000-0000-4000-8000-000000000000")
        with pytest.raises(ValidationError) as err:
            list(crm.find("Accounts", {"no_such_field": 1}))
        assert err.value.fields == ["no_such_field"]
        with pytest.raises(NotFound):
            crm.fields("NoSuchModule")
