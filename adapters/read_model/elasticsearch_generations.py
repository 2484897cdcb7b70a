"""Generations of production read models: versioned Elasticsearch indices behind aliases.

`{namespace}-{collection}` is an alias; the index it points to is `...-g{N}`. A replay builds
generation N+1 with refreshes off, and switches every collection of the projection in one
`_aliases` request (atomic for readers). Inspection targets are `...-asof-{name}` indices that
never get the alias. Replay checkpoints live in `{namespace}-replay-positions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from elasticsearch import NotFoundError

from adapters.read_model.elasticsearch_read_store import ElasticsearchReadStore, generation_index
from projections.read_model.health import ProjectionLocks
from projections.read_model.replay import ReplayTarget
from projections.read_model.runner import Projector

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}$")


def collections_of(projector: Projector) -> tuple[str, ...]:
    return tuple(getattr(projector, "collections", ()))


class ElasticsearchGenerations:
    def __init__(self, url: str, namespace: str, live: ElasticsearchReadStore,
                 locks: ProjectionLocks,
                 on_switched: Callable[[Projector], None] | None = None) -> None:
        self._url = url
        self._namespace = namespace
        self._live = live
        self._client = live.client
        self._locks = locks
        self._on_switched = on_switched
        self._checkpoints = f"{namespace}-replay-positions"

    def _alias(self, collection: str) -> str:
        return f"{self._namespace}-{collection}"

    def _generations(self, collection: str) -> dict[int, str]:
        """Every generation index of a collection, by number."""
        pattern = re.compile(rf"^{re.escape(self._alias(collection))}-g(\d+)$")
        try:
            names = self._client.indices.get(index=f"{self._alias(collection)}-g*")
        except NotFoundError:
            return {}
        return {int(m.group(1)): name for name in names if (m := pattern.match(name))}

    def _serving_index(self, collection: str) -> str | None:
        try:
            found = self._client.indices.get_alias(name=self._alias(collection))
        except NotFoundError:
            return None
        return next(iter(found), None)

    def serving(self, projector: Projector) -> int:
        numbers = []
        for collection in collections_of(projector):
            index = self._serving_index(collection) or ""
            match = re.search(r"-g(\d+)$", index)
            numbers.append(int(match.group(1)) if match else 0)
        return max(numbers, default=0)

    def unfinished(self, projector: Projector) -> int | None:
        serving = self.serving(projector)
        newer = [n for c in collections_of(projector) for n in self._generations(c)
                 if n > serving]
        return max(newer, default=None)

    def _target_store(self, projector: Projector,
                      indices: dict[str, str]) -> ElasticsearchReadStore:
        store = ElasticsearchReadStore(self._url, self._namespace, collections_of(projector),
                                       indices=indices, positions_index=self._checkpoints,
                                       refresh=False)
        store.ensure_indices()
        for index in indices.values():
            self._client.indices.put_settings(index=index,
                                              settings={"index": {"refresh_interval": "-1"}})
        return store

    def target(self, projector: Projector, generation: int) -> ReplayTarget:
        indices = {c: generation_index(self._namespace, c, generation)
                   for c in collections_of(projector)}
        return ReplayTarget(projector, self._target_store(projector, indices),
                            f"{projector.name}-g{generation}", generation, indices)

    def named_target(self, projector: Projector, name: str) -> ReplayTarget:
        if not NAME.match(name):
            raise ValueError("a target name is lowercase letters, digits, '-' and '_'")
        indices = {c: f"{self._alias(c)}-asof-{name}" for c in collections_of(projector)}
        return ReplayTarget(projector, self._target_store(projector, indices),
                            f"{projector.name}-{name}", None, indices)

    def _readable(self, target: ReplayTarget) -> None:
        indices = ",".join(target.locations.values())
        self._client.indices.put_settings(index=indices,
                                          settings={"index": {"refresh_interval": None}})
        self._client.indices.refresh(index=indices)

    def finish(self, target: ReplayTarget) -> None:
        self._readable(target)

    def switch(self, target: ReplayTarget, catch_up: Callable[[], int]) -> None:
        projector = target.projector
        with self._locks.hold(projector.name):
            catch_up()
            self._readable(target)
            actions: list[dict[str, Any]] = []
            for collection, index in target.locations.items():
                alias = self._alias(collection)
                current = self._serving_index(collection)
                if current == alias:  # a concrete index from before generations existed
                    actions.append({"remove_index": {"index": alias}})
                elif current is not None:
                    actions.append({"remove": {"index": current, "alias": alias}})
                actions.append({"add": {"index": index, "alias": alias}})
            self._client.indices.update_aliases(actions=actions)
            position = target.store.position(target.checkpoint_key)
            self._live.apply([], projector.name, position)
        if self._on_switched is not None:
            self._on_switched(projector)

    def prune(self, projector: Projector) -> list[str]:
        serving = self.serving(projector)
        doomed = [name for c in collections_of(projector)
                  for n, name in sorted(self._generations(c).items()) if n < serving]
        for name in doomed:
            self._client.indices.delete(index=name, ignore_unavailable=True)
        return doomed

    def locations(self, projector: Projector) -> dict[str, str]:
        return {c: self._serving_index(c) or "(missing)" for c in collections_of(projector)}
