"""The deployment's risk rules, versioned as events: one `RiskRules` aggregate (fixed id).

An operator publishes a rule set document (domain/payments/risk.py checks it); each publish
is a `Published` event with the next version, the whole document, the operator's reason and
who they are, so the rules any payment was assessed by can be read back from the log. Before
the first publish the rules are the defaults this deployment was given (DEFAULT_RULES unless
settings say otherwise), at version 0. Publishing what is already in force records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final
from uuid import UUID

from domain.payments.risk import DEFAULT_RULES, InvalidRuleSet, RuleSet, rule_set_from_document
from event_log.aggregate import Cause, ParleyAggregate, copied

RISK_RULES_ID: Final = UUID("b5d0e7a3-2c49-4f61-9e8b-6a13f4c70d25")
MAX_REASON_CHARS: Final = 500


def _without_version(rule_set: RuleSet) -> dict[str, Any]:
    document = rule_set.as_document()
    del document["version"]
    return document


class RiskRules(ParleyAggregate):
    """Every version of the deployment's risk rules, the latest in force."""

    def __init__(self) -> None:
        # not `version`: that is the aggregate's own, the event log's count of its events
        self.rules_version = 0
        self.document: dict[str, Any] | None = None  # the latest published; None: defaults

    class Started(ParleyAggregate.Created):
        pass

    class Published(ParleyAggregate.Event):
        """A rule set in force from now: `rules` is its whole document (RuleSet.as_document,
        `version` included)."""

        version: int
        rules: dict[str, Any]
        reason: str
        operator: UUID
        copies = copied(rules_version="version", document="rules")

    @classmethod
    def start(cls, cause: Cause) -> RiskRules:
        """The deployment's rules, on their first publish."""
        return cls._create(cls.Started, id=RISK_RULES_ID, **cause.as_event_fields())

    def current(self, defaults: RuleSet = DEFAULT_RULES) -> RuleSet:
        """The rule set in force: the latest published, else `defaults` at version 0."""
        if self.document is None:
            return replace(defaults, version=0)
        return rule_set_from_document(self.document)

    def publish(self, document: Mapping[str, Any], reason: str, operator: UUID, cause: Cause,
                defaults: RuleSet = DEFAULT_RULES) -> bool:
        """Put a rule set document in force as the next version (its own `version`, if any,
        is ignored); False if it says what the rules in force already say."""
        if not isinstance(reason, str) or not reason.strip() \
                or len(reason) > MAX_REASON_CHARS:
            raise InvalidRuleSet("reason", f"say why, in 1 to {MAX_REASON_CHARS} characters")
        if not isinstance(document, Mapping):
            raise InvalidRuleSet("rules", "a rule set is an object")
        proposed = rule_set_from_document({**document, "version": self.rules_version + 1})
        if _without_version(proposed) == _without_version(self.current(defaults)):
            return False
        self.trigger_event(self.Published, version=proposed.version,
                           rules=proposed.as_document(), reason=reason.strip(),
                           operator=operator, **cause.as_event_fields())
        return True
