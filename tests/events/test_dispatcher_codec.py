"""The event JSON codec used by the queue (events/codec.py): round trips and named errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suitecrm_ext import Event, FieldChange
from suitecrm_ext.events.codec import CodecError, dumps_event, event_from_dict, event_to_dict, loads_event

T0 = dt.datetime(2026, 11, 23, 9, 10, 5, tzinfo=dt.timezone.utc)


def test_documented_form():
    e = Event(module="Accounts", record_id="a1", kind="updated", time=T0, source="push",
              changes={"name": FieldChange("Old", "New")},
              values={"name": "New", "date_modified": T0, "amount": Decimal("12.50"),
                      "due": dt.date(2026, 12, 1), "tags": ["x", 1, None], "nested": {"at": T0}},
              user_id="1")
    doc = event_to_dict(e)
    assert doc["time"] == "2026-11-23T09:10:05Z" and doc["kind"] == "updated" and doc["v"] == 1
    assert doc["changes"] == {"name": {"before": "Old", "after": "New"}}
    assert doc["values"]["date_modified"] == {"$dt": "2026-11-23T09:10:05Z"}
    assert doc["values"]["amount"] == {"$dec": "12.50"} and doc["values"]["due"] == {"$date": "2026-12-01"}
    assert doc["values"]["nested"] == {"at": {"$dt": "2026-11-23T09:10:05Z"}}
    assert loads_event(dumps_event(e)) == e
    assert json.loads(dumps_event(e)) == doc


def test_relationship_event_round_trips_with_its_key():
    e = Event(module="Accounts", record_id="a1", kind="related", time=T0, link="contacts",
              related_module="Contacts", related_id="c9")
    back = event_from_dict(event_to_dict(e))
    assert back == e and back.key == e.key and back.related_id == "c9"


def test_times_with_offsets_become_utc_and_naive_times_are_utc():
    doc = event_to_dict(Event(module="M", record_id="1", kind="created", time=T0))
    doc["time"] = "2026-11-23T12:10:05+03:00"
    assert event_from_dict(doc).time == T0
    doc["time"] = "2026-11-23 09:10:05"
    assert event_from_dict(doc).time == T0


@pytest.mark.parametrize("patch, message", [
    ({"module": ""}, "module: required"),
    ({"record_id": None}, "record_id: required"),
    ({"kind": "saved"}, "kind: must be one of created, updated, deleted, related, unrelated, got 'saved'"),
    ({"source": "mail"}, "source: must be poll or push"),
    ({"time": "yesterday"}, "time: not an ISO 8601 datetime: 'yesterday'"),
    ({"time": 5}, "time: expected an ISO 8601 string"),
    ({"changes": ["name"]}, "changes: expected an object"),
    ({"changes": {"name": "New"}}, "changes.name: expected an object with before/after"),
    ({"values": {"amount": {"$dec": "twelve"}}}, "values.amount: not a decimal"),
    ({"values": {"when": {"$dt": "noon"}}}, "values.when: not an ISO 8601 datetime"),
    ({"user_id": 7}, "user_id: expected a string or null"),
    ({"v": 2}, "v: unsupported event format version 2"),
])
def test_bad_documents_are_refused_naming_the_field(patch, message):
    doc = event_to_dict(Event(module="M", record_id="1", kind="created", time=T0))
    doc.update(patch)
    with pytest.raises(CodecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        event_from_dict(doc)


def test_not_json_and_not_an_object():
    with pytest.raises(CodecError, match="event: not valid JSON"):
        loads_event("{nope")
    with pytest.raises(CodecError, match="event: expected an object, got list"):
        event_from_dict([])


def test_values_without_a_json_type_are_refused_naming_the_field():
    e = Event(module="M", record_id="1", kind="created", time=T0, values={"obj": {"deep": {1, 2}}})
    with pytest.raises(CodecError, match=r"values.obj.deep: cannot store a set in an event"):
        event_to_dict(e)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.datetimes(timezones=st.just(dt.timezone.utc)), st.dates(),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2))
values = st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: not k.startswith("$")),
                         st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=5)


@given(values=values, before=scalars, after=scalars)
def test_any_storable_values_round_trip(values, before, after):
    e = Event(module="Accounts", record_id="r", kind="updated", time=T0, values=values,
              changes={"f": FieldChange(before, after)})
    assert loads_event(dumps_event(e)) == e
