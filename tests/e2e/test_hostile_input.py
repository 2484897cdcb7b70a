"""No input, however strange, reaches a 500: every refusal is a 4xx problem answer."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import ParleyClient

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
BODIES = JSON_VALUES | st.fixed_dictionaries(
    {"text": st.text(max_size=300)}
) | st.fixed_dictionaries({"handle": st.text(max_size=40), "name": st.text(max_size=100)}) | (
    st.fixed_dictionaries({"peer_id": st.text(max_size=40)})
)
SEGMENTS = st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                          blacklist_characters="/?#%"), max_size=40)
HYPOTHESIS = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_problem(response_status: int, content_type: str) -> None:
    assert response_status < 500
    if response_status >= 400:
        assert content_type == "application/problem+json"


@HYPOTHESIS
@given(body=BODIES, route=st.sampled_from(["/v1/users", "/v1/conversations/direct",
                                           "/v1/conversations/{c}/messages"]))
def test_random_command_bodies_get_4xx_or_success(parley: ParleyClient, body: object,
                                                   route: str) -> None:
    ada = getattr(test_random_command_bodies_get_4xx_or_success, "ada", None)
    if ada is None:
        ada = parley.register("Ada")
        bob = parley.register("Bob")
        conversation = parley.open_direct(ada, bob)
        test_random_command_bodies_get_4xx_or_success.ada = ada  # type: ignore[attr-defined]
        test_random_command_bodies_get_4xx_or_success.c = conversation  # type: ignore[attr-defined]
    conversation = test_random_command_bodies_get_4xx_or_success.c  # type: ignore[attr-defined]
    response = parley.http.post(route.format(c=conversation), content=json.dumps(body),
                                headers=ada.auth | {"content-type": "application/json"})
    assert_problem(response.status_code, response.headers.get("content-type", ""))


@HYPOTHESIS
@given(segment=SEGMENTS, limit=st.text(max_size=8), cursor=st.text(max_size=60),
       position=st.text(max_size=25), words=st.text(max_size=60))
def test_random_query_parameters_get_4xx_or_success(
    parley: ParleyClient, segment: str, limit: str, cursor: str, position: str, words: str
) -> None:
    reader = getattr(test_random_query_parameters_get_4xx_or_success, "reader", None)
    if reader is None:
        reader = parley.register("Reader")
        test_random_query_parameters_get_4xx_or_success.reader = reader  # type: ignore[attr-defined]
    params = {"limit": limit, "cursor": cursor, "position": position}
    segment = quote(segment, safe="")
    for response in (
        parley.http.get(f"/v1/conversations/{segment}/messages", params=params,
                        headers=reader.auth),
        parley.http.get("/v1/search/messages", params=params | {"q": words},
                        headers=reader.auth),
        parley.http.get(f"/v1/users/{segment}", headers=reader.auth),
    ):
        assert_problem(response.status_code, response.headers.get("content-type", ""))
