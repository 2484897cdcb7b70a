"""A production process built without the writer serves queries and refuses commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from parley.bootstrap import build
from parley.settings import Settings
from parley.signing_keys import generate_key
from tests.builders import a_handle

pytestmark = pytest.mark.services


@pytest.fixture
def queries_only(services: dict[str, str], namespace: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(database_url=services["PARLEY_DATABASE_URL"],
                        kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"],
                        elasticsearch_url=services["PARLEY_ELASTICSEARCH_URL"],
                        redis_url=services["PARLEY_REDIS_URL"], namespace=namespace,
                        secret_key=generate_key(),
                        data_dir=tmp_path_factory.mktemp("queries-only"))
    parley = build(settings, with_writer=False)
    try:
        with TestClient(create_app(parley), raise_server_exceptions=False) as client:
            yield client
    finally:
        from elasticsearch import Elasticsearch

        with Elasticsearch(services["PARLEY_ELASTICSEARCH_URL"]) as search:
            search.indices.delete(index=f"{namespace}-*", ignore_unavailable=True)


def test_a_process_without_the_writer_answers_queries_but_no_command(
        queries_only: TestClient) -> None:
    assert queries_only.get("/health").status_code == 200
    assert queries_only.get("/v1/users/me").status_code == 401  # a query route, answering
    registered = queries_only.post("/v1/users", json={
        "handle": a_handle(), "name": "Ada", "password": "correct horse battery"})
    assert registered.status_code == 500  # as before: this process never writes
