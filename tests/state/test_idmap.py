"""The id map over both state backends: both directions, uniqueness, data, iteration."""

from __future__ import annotations

import pytest

from suitecrm_ext.state import StateError
from suitecrm_ext.state.idmap import IdMap, IdMapConflict, IdPair


def test_link_is_readable_both_ways_and_from_another_connection(open_store):
    ids = IdMap(open_store(), "sync.ids")
    ids.link("Accounts", "int-1", "por-1", {"base": {"name": "Acme"}})
    other = IdMap(open_store(), "sync.ids")  # another process
    assert other.right("Accounts", "int-1") == "por-1"
    assert other.left("Accounts", "por-1") == "int-1"
    expected = IdPair("Accounts", "int-1", "por-1", {"base": {"name": "Acme"}})
    assert other.entry("Accounts", "int-1") == expected
    assert other.entry_by_right("Accounts", "por-1").left == "int-1"
    assert other.right("Contacts", "int-1") is None  # kinds are separate
    assert other.left("Accounts", "int-1") is None  # and so are the directions


def test_an_id_never_stands_for_two_records(store):
    ids = IdMap(store, "sync.ids")
    ids.link("Accounts", "int-1", "por-1")
    with pytest.raises(IdMapConflict, match="int-1 is already mapped to por-1"):
        ids.link("Accounts", "int-1", "por-2")
    with pytest.raises(IdMapConflict, match="por-1 .* already belongs to int-1"):
        ids.link("Accounts", "int-2", "por-1")
    assert ids.right("Accounts", "int-2") is None and ids.left("Accounts", "por-2") is None
    ids.link("Accounts", "int-1", "por-1", {"v": 2})  # the same pair again: new data
    assert ids.entry("Accounts", "int-1").data == {"v": 2}


def test_update_and_unlink(store):
    ids = IdMap(store, "sync.ids")
    with pytest.raises(StateError, match="not mapped"):
        ids.update("Cases", "c1", {"x": 1})
    ids.link("Cases", "c1", "p1", {"x": 1})
    assert ids.update("Cases", "c1", {"x": 2}).right == "p1"
    assert ids.entry("Cases", "c1").data == {"x": 2}
    assert ids.unlink("Cases", "c1") is True and ids.unlink("Cases", "c1") is False
    assert ids.left("Cases", "p1") is None
    ids.link("Cases", "c2", "p1")  # the right id is free again


def test_pairs_iterate_every_entry_of_a_kind_in_order(store):
    ids = IdMap(store, "sync.ids")
    for i in range(1203):
        store.kv_set_many("sync.ids", {f"L:Accounts:i{i:05d}": {"r": f"p{i}", "d": {"n": i}},
                                       f"R:Accounts:p{i}": f"i{i:05d}"})
    ids.link("Contacts", "c", "pc")
    pairs = list(ids.pairs("Accounts"))
    assert len(pairs) == 1203 == ids.count("Accounts")
    assert [p.left for p in pairs] == sorted(p.left for p in pairs)
    assert pairs[1202] == IdPair("Accounts", "i01202", "p1202", {"n": 1202})


def test_bad_names_are_refused_with_what_was_wrong(store):
    ids = IdMap(store, "sync.ids")
    with pytest.raises(StateError, match="left id"):
        ids.link("Accounts", "", "p")
    with pytest.raises(StateError, match="right id is longer"):
        ids.link("Accounts", "i", "x" * 200)


def test_link_many_and_update_many_are_one_transaction_each(store):
    ids = IdMap(store, "sync.ids")
    ids.link("Accounts", "i0", "p0")
    pairs = ids.link_many("Accounts", [(f"i{k}", f"p{k}", {"n": k}) for k in range(1, 300)])
    assert len(pairs) == 299 and ids.left("Accounts", "p299") == "i299"
    assert ids.entry("Accounts", "i7").data == {"n": 7}
    with pytest.raises(IdMapConflict):
        ids.link_many("Accounts", [("new", "fresh", {}), ("i1", "other", {})])
    assert ids.right("Accounts", "new") is None  # all or nothing
    with pytest.raises(IdMapConflict):
        ids.link_many("Accounts", [("a", "x", {}), ("b", "x", {})])
    ids.update_many("Accounts", {"i1": {"ok": True}, "i2": {"ok": True}})
    assert ids.entry("Accounts", "i2").data == {"ok": True} and ids.right("Accounts", "i2") == "p2"
    with pytest.raises(StateError, match="not mapped"):
        ids.update_many("Accounts", {"nope": {}})
