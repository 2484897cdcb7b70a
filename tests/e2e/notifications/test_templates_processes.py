"""Templates on both profiles as real processes (the package's shared deployments): the admin
API saves versions to the log, lists, shows versions and previews from the templates read
model (SQLite in the embedded default, Elasticsearch in production), a templated trigger's
inbox entry is its in-app template rendered in the recipient's fallen-back locale, and
`parley templates versions` reads the same versions from the profile's log."""

from __future__ import annotations

import json

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.notifications.deployments import issue_key, parley_cli

ROOT = "/v1/admin/notification-templates"


def saved(parley: ParleyClient, admin: Person, method: str, path: str,
          body: dict[str, object], status: int) -> dict[str, object]:
    answer = parley.http.request(method, path, json=body, headers=admin.auth)
    assert answer.status_code == status, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_templates_are_saved_listed_previewed_and_used_on_each_profile(
        parley: ParleyClient, processes: ParleyProcesses, admin: Person) -> None:
    sources = {"category": "system", "channel": "in_app", "body": "{{ body }}"}
    saved(parley, admin, "POST", ROOT, sources | {"title": "Build {{ title }}"}, 201)
    pt = saved(parley, admin, "POST", ROOT, sources | {"locale": "pt",
                                                       "title": "Obra {{ title }}"}, 201)
    path = f"{ROOT}/{pt['template_id']}"
    second = saved(parley, admin, "PUT", path, {"title": "Compilação {{ title }}",
                                                "body": "{{ body }}"}, 200)
    at = {"position": second["position"]}

    versions = parley.http.get(f"{path}/versions", params=at, headers=admin.auth)
    assert versions.status_code == 200, versions.text
    assert [v["title"] for v in versions.json()] == ["Obra {{ title }}",
                                                     "Compilação {{ title }}"]
    preview = parley.http.post(f"{path}/preview", params=at, headers=admin.auth, json={
        "version": 1, "variables": {"title": "7", "body": "ok"}})
    assert (preview.status_code, preview.json()["title"]) == (200, "Obra 7"), preview.text
    listed = parley.http.get(ROOT, params=at | {"category": "system"}, headers=admin.auth)
    assert {(t["locale"], t["version"]) for t in listed.json()} >= {("default", 1), ("pt", 2)}

    reader = parley.register("Rui")
    key = issue_key(processes.env)
    triggered = parley.http.post("/v1/notifications", headers={"Authorization": f"Bearer {key}"},
                                 json={"recipients": [reader.user_id], "category": "system",
                                       "plan": {"channels": ["in_app"]}, "locale": "pt-BR",
                                       "template_variables": {"title": "1207",
                                                              "body": "Tudo verde."}})
    assert triggered.status_code == 202, triggered.text
    inbox = parley.http.get("/v1/notifications", headers=reader.auth,
                            params={"position": triggered.json()["position"]})
    assert inbox.status_code == 200, inbox.text
    [entry] = inbox.json()["notifications"]
    assert (entry["title"], entry["body"]) == ("Compilação 1207", "Tudo verde.")

    from_log = parley_cli(processes, "templates", "versions", "--category", "system",
                          "--channel", "in_app", "--locale", "pt", "--json")
    assert from_log.returncode == 0, from_log.stderr
    assert [json.loads(line)["version"] for line in from_log.stdout.splitlines()] == [1, 2]
