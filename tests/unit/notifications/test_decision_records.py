"""What `Notification.Decided` keeps of a step's inputs: JSON's types only, whatever the step
put in (dict keys made strings, sets sorted, moments as ISO 8601), the same for the plain
dicts and lists the steps use and for any other mapping or sequence."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time
from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from domain.notifications.decisions import Decision, jsonable

AT = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12)


def test_moments_sets_ids_and_keys_become_json():
    recipient = uuid.uuid4()
    inputs = {"until": AT, "on": date(2026, 12, 3), "from": time(22, 0),
              "kinds": frozenset({"fcm", "apns"}), 7: (1, 2), "recipient": recipient,
              "rule": MappingProxyType({"push": False})}
    assert jsonable(inputs) == {"until": "2026-12-02T22:30:00+00:00", "on": "2026-12-03",
                                "from": "22:00:00", "kinds": ["apns", "fcm"], "7": [1, 2],
                                "recipient": str(recipient), "rule": {"push": False}}


@given(values)
def test_json_values_are_kept_as_they_are(value: object):
    assert jsonable(value) == value
    assert json.loads(json.dumps(jsonable(value))) == value


@given(values)
def test_a_value_reads_the_same_through_any_mapping_or_sequence(value: object):
    def other_shapes(v: object) -> object:
        if isinstance(v, dict):
            return MappingProxyType({k: other_shapes(x) for k, x in v.items()})
        if isinstance(v, list):
            return tuple(other_shapes(x) for x in v)
        return v

    assert jsonable(other_shapes(value)) == value


def test_a_steps_record_names_its_outcome_and_keeps_its_inputs():
    held = Decision("quiet_hours", hold_until=AT, inputs={"local_time": time(23, 0)})
    assert held.record() == {"step": "quiet_hours", "outcome": "hold",
                             "hold_until": "2026-12-02T22:30:00+00:00",
                             "inputs": {"local_time": "23:00:00"}}
