"""From a command's typed result to its HTTP answer: the status code and the JSON body.

The write side answers in its own terms (`MessageAccepted`, `GroupChanged(new=True)`); each
context states once, in its `api/<context>/answers.py`, which status and body every result of
its commands is answered with, and its routes reply through it. A result replayed from an
idempotency receipt written before results were typed (`RecordedAnswer`) is answered with
the status and body it stored, whatever the context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel

from event_log.idempotency import RecordedAnswer
from event_log.outcomes import Outcome

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Answer:
    """A status code and a JSON body (without the log position, which every answer adds)."""

    status: int
    body: dict[str, Any]


class Answers:
    """One context's answers: a function per result type, from the result to its answer."""

    def __init__(self, by_result: Mapping[type, Callable[[Any], Answer]]) -> None:
        self._by_result = dict(by_result)

    def answer(self, result: object) -> Answer:
        if isinstance(result, RecordedAnswer):
            return Answer(result.status, dict(result.body))
        try:
            answer_of = self._by_result[type(result)]
        except KeyError:
            raise TypeError(f"no HTTP answer for {type(result).__name__}") from None
        return answer_of(result)

    def reply(self, response: Response, outcome: Outcome[Any], model: type[Model]) -> Model:
        """The route's answer to `outcome`: its status on `response`, its body as `model`."""
        answer = self.answer(outcome.result)
        response.status_code = answer.status
        return model(**answer.body, position=outcome.position)
