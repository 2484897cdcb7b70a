"""Notification templates through HTTP: admins create, update, list, preview and list versions;
a triggered notification is rendered with the recipient's template (locale fallback) and
records the template and version it used; refusals are 422 problem+json and save nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.identity.roles import GrantRole
from domain.notifications.notifications import Notification
from parley.assembly import Parley
from parley.bootstrap import build
from tests.builders import ParleyClient, Person, a_cause, an_api_key, embedded_settings

ROOT = "/v1/admin/notification-templates"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Parley, TestClient]]:
    parley = build(embedded_settings(Path(tmp_path_factory.mktemp("templates")) / "data"))
    with TestClient(create_app(parley)) as http:
        yield parley, http


@pytest.fixture(scope="module")
def admin(world: tuple[Parley, TestClient]) -> Person:
    parley, http = world
    person = ParleyClient(http).register("Ada")
    parley.writer.execute(GrantRole(uuid.UUID(person.user_id), "admin", "tests"), a_cause())
    return person


@pytest.fixture(scope="module")
def trigger_key(world: tuple[Parley, TestClient]) -> str:
    issue, key = an_api_key("notifications:trigger", name="templates")
    world[0].writer.execute(issue, a_cause())
    return key.presented


def call(world: tuple[Parley, TestClient], person: Person, method: str, path: str,
         body: Any = None, position: int | None = None) -> Any:
    params = {"position": position} if position is not None else {}
    return world[1].request(method, path, json=body, params=params,
                            headers={"Authorization": f"Bearer {person.token}"})


def requested_of(parley: Parley, notification_id: uuid.UUID) -> Notification.Requested:
    """The event that made the notification (it records the templates that made its text)."""
    event = next(iter(parley.event_log.repository.event_store.get(notification_id)))
    assert isinstance(event, Notification.Requested)
    return event


def a_template(**changes: Any) -> dict[str, Any]:
    return {"category": "payment", "channel": "in_app", "locale": "default",
            "title": "Paid {{ amount }}", "body": "We got {{ amount }} {{ currency }}.",
            "sample_variables": {"amount": "1.00", "currency": "EUR"}} | changes


def test_create_update_versions_and_preview(world, admin):
    created = call(world, admin, "POST", ROOT, a_template(category="account",
                                                          title="Hi {{ display_name }}",
                                                          body="Go to {{ link }}",
                                                          sample_variables={}))
    assert created.status_code == 201, created.text
    template = created.json()
    assert (template["version"], template["locale"]) == (1, "default")
    path = f"{ROOT}/{template['template_id']}"
    updated = call(world, admin, "PUT", path, {"title": "Hello {{ display_name }}",
                                               "body": "Open {{ link }}"})
    assert (updated.status_code, updated.json()["version"]) == (200, 2), updated.text
    again = call(world, admin, "PUT", path, {"title": "Hello {{ display_name }}",
                                             "body": "Open {{ link }}"})
    assert (again.json()["version"], again.json()["changed"]) == (2, False)
    position = again.json()["position"]
    versions = call(world, admin, "GET", f"{path}/versions", position=position).json()
    # each answer's times are its events': created with version 1, updated with the latest
    assert template["created_at"] == template["updated_at"] == versions[0]["saved_at"]
    assert updated.json()["created_at"] == template["created_at"]
    assert updated.json()["updated_at"] == again.json()["updated_at"] == versions[1]["saved_at"]
    shown = call(world, admin, "GET", path, position=position).json()
    assert (shown["created_at"], shown["updated_at"]) == (template["created_at"],
                                                          versions[1]["saved_at"])
    assert [(v["version"], v["title"]) for v in versions] == [
        (1, "Hi {{ display_name }}"), (2, "Hello {{ display_name }}")]
    assert all(v["saved_by"] == admin.user_id for v in versions)
    first = call(world, admin, "POST", f"{path}/preview",
                 {"version": 1, "variables": {"display_name": "Bo", "link": "x"}}).json()
    assert (first["title"], first["body"]) == ("Hi Bo", "Go to x")
    latest = call(world, admin, "POST", f"{path}/preview", {}).json()
    assert (latest["version"], latest["title"]) == (2, "Hello <display_name>")
    listed = call(world, admin, "GET", ROOT, position=position).json()
    assert template["template_id"] in [t["template_id"] for t in listed]


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"body": "{{ ''.__class__ }}"}, "body", "unsafe"),
    ({"body": "{% for i in range(10**9) %}x{% endfor %}"}, "body", "steps"),
    ({"body": "{{ amount }} {{ card_number }}"}, "variables", "unknown variable card_number"),
    ({"body": "{{ amount }"}, "body", "line 1"),
    ({"channel": "sms", "body": "{% for i in range(1000) %}{{ amount }}{% endfor %}"}, "body",
     "segments"),
    ({"channel": "push", "html": "<p>x</p>"}, "html", "only an email template"),
])
def test_a_template_that_fails_validation_is_refused_and_nothing_is_saved(
        world, admin, changes, field, words):
    parley, _ = world
    head = parley.event_log.recorder.max_notification_id()
    refused = call(world, admin, "POST", ROOT, a_template(locale="de", **changes))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert error["field"] == field and words in error["message"], error
    assert parley.event_log.recorder.max_notification_id() == head


def test_only_admins_may_touch_templates(world, admin):
    someone = ParleyClient(world[1]).register("Cy")
    for method, path in (("GET", ROOT), ("POST", ROOT), ("GET", f"{ROOT}/{uuid.uuid4()}")):
        answer = call(world, someone, method, path, a_template() if method == "POST" else None)
        assert answer.status_code == 403, answer.text


def test_a_triggered_notification_uses_the_recipients_locale_and_records_the_version(
        world, admin, trigger_key):
    parley, http = world
    for locale, title in (("default", "Paid {{ amount }}"), ("pt", "Pago {{ amount }}")):
        made = call(world, admin, "POST", ROOT, a_template(locale=locale, title=title))
        assert made.status_code == 201, made.text
    pt = made.json()
    call(world, admin, "PUT", f"{ROOT}/{pt['template_id']}",
         {"title": "Pagamos {{ amount }}", "body": "Recebemos {{ amount }} {{ currency }}.",
          "sample_variables": {"amount": "1.00", "currency": "EUR"}})
    bo = ParleyClient(http).register("Bo")
    rendered = {}
    for locale in ("pt-BR", "fr", None):
        answer = http.post("/v1/notifications", headers={
            "Authorization": f"Bearer {trigger_key}"}, json={
            "recipients": [bo.user_id], "category": "payment", "plan": {"channels": ["in_app"]},
            "template_variables": {"amount": "9.90", "currency": "BRL"}, "locale": locale})
        assert answer.status_code == 202, answer.text
        nid = answer.json()["notifications"][0]["notification_id"]
        notification = parley.event_log.repository.get(uuid.UUID(nid))
        assert isinstance(notification, Notification)
        [rendering] = requested_of(parley, uuid.UUID(nid)).renderings
        rendered[locale] = (notification.title, rendering["locale"], rendering["version"])
    assert rendered == {"pt-BR": ("Pagamos 9.90", "pt", 2), "fr": ("Paid 9.90", "default", 1),
                        None: ("Paid 9.90", "default", 1)}


def test_a_trigger_whose_variables_do_not_render_is_refused(world, admin, trigger_key):
    parley, http = world
    bo = ParleyClient(http).register("Di")
    head = parley.event_log.recorder.max_notification_id()
    for variables, words in (({"amount": "1"}, "'currency' is undefined"),):
        answer = http.post("/v1/notifications", headers={
            "Authorization": f"Bearer {trigger_key}"}, json={
            "recipients": [bo.user_id], "category": "payment",
            "plan": {"channels": ["in_app", "sms"]}, "template_variables": variables})
        assert answer.status_code == 422, answer.text
        assert words in answer.text or "no template" in answer.text
    assert parley.event_log.recorder.max_notification_id() == head


def test_the_recipients_own_locale_comes_before_the_triggers(world, admin, trigger_key):
    parley, http = world
    made = call(world, admin, "POST", ROOT, a_template(locale="es", title="Pagado {{ amount }}"))
    assert made.status_code == 201, made.text
    eva = ParleyClient(http).register("Eva")
    chosen = http.put("/v1/users/me/notification-preferences", headers=eva.auth,
                      json={"locale": "es-MX"})
    assert chosen.status_code == 200, chosen.text
    answer = http.post("/v1/notifications", headers={"Authorization": f"Bearer {trigger_key}"},
                       json={"recipients": [eva.user_id], "category": "payment",
                             "plan": {"channels": ["in_app"]}, "locale": "pt-BR",
                             "template_variables": {"amount": "3", "currency": "MXN"}})
    assert answer.status_code == 202, answer.text
    nid = uuid.UUID(answer.json()["notifications"][0]["notification_id"])
    [rendering] = requested_of(parley, nid).renderings
    assert (rendering["asked_locale"], rendering["locale"], rendering["title"]) == (
        "es-MX", "es", "Pagado 3")


@pytest.mark.parametrize("extra", [
    {"content": {"body": "hi"}, "template_variables": {"amount": "1"}},  # both
    {},  # neither
    {"template_variables": {"amount": "1"}, "locale": "../x"},
])
def test_a_trigger_needs_content_or_template_variables_and_a_well_formed_locale(
        world, trigger_key, extra):
    parley, http = world
    bo = ParleyClient(http).register("Flo")
    head = parley.event_log.recorder.max_notification_id()
    answer = http.post("/v1/notifications", headers={"Authorization": f"Bearer {trigger_key}"},
                       json={"recipients": [bo.user_id], "category": "payment",
                             "plan": {"channels": ["in_app"]}} | extra)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert parley.event_log.recorder.max_notification_id() == head
