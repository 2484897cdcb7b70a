"""`python -m bench decisions [--iterations N] [--recipients N] [--triggers N]`: what deciding
costs per notification, in µs, as JSON (one core; no services, no processes).

(a) The pure pipeline: `decide()` over DECISION_STEPS (domain/notifications/pipeline.py), per
    scenario, alone and with the records `Notification.Decided` keeps (`Routing.records()`,
    the trace made JSON). Each scenario is checked to take the path it is named after before
    it is timed (a hold holds, a duplicate is suppressed, ...), so a step that stopped being
    asked shows as a failure, not as a faster number.
(b) The whole trigger handler (commands/notifications/trigger.py) per recipient, with every
    step's facts loaded from a real batch over an in-memory event log (eventsourcing's popo
    recorder), seeded through the commands: users, FCM tokens, phone numbers with SMS consent,
    preferences (a zone, quiet hours not covering now, an override that keeps push on against
    the operator's default), templates. The batch is loaded before it is timed, as the
    writer's warm cache would hand it over; the commit (the log's save) is not timed.
(c) The same trigger through the real group-commit writer on the embedded profile's SQLite
    log, commit included, to the inbox alone (the write path, no dispatch), by what it uses:
    part 1's, a dedup key, a template, both; CPU ms per notification of the whole process
    (the writer's thread and the caller's). What (b) cannot see: a batch's reads of
    aggregates the writer's cache lacks (a never-used dedup key is one query each).

Median of `--runs` (3) runs each, in CPU µs of the measuring thread (time.thread_time: a
shared machine's other processes delay it without being counted, which wall time would not
tell apart). The machine and its load average come with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from commands.identity.users import RegisterUser, register_user
from commands.notifications.contact_points import (
    AddPhone,
    ContactPointRules,
    RegisterDeviceToken,
    add_phone,
    register_device_token,
)
from commands.notifications.preferences import ChangeNotificationPreferences, change_preferences
from commands.notifications.sms_consent import GrantSmsConsent, grant_sms_consent
from commands.notifications.templates import CreateTemplate, create_template
from commands.notifications.trigger import TriggerNotifications, trigger_notifications
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.collapsing import DedupFact, DigestTarget
from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, Routing, RoutingRequest, decide
from domain.notifications.digests import DigestAsk
from domain.notifications.notifications import DIGESTED, QUEUED, Notification
from domain.notifications.pipeline import DECISION_STEPS
from domain.notifications.preferences import PreferenceChanges, PreferenceFacts
from domain.notifications.rendering import TemplateParts
from domain.notifications.sms_consent import GRANTED, ConsentEvidence
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.log import EventLog

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # 12:00 in Lisbon: no quiet hours, SMS open
NIGHT = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # 23:30 in Lisbon: quiet hours
ZONE = "Europe/Lisbon"
QUIET = ("22:00", "07:00")
PUSH_AND_INBOX = ("push", "in_app")
PROVIDED = frozenset({"in_app", "fcm", "phone"})
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
CALLER = "apikey:bench"
# the operator switched push off for the category; the user switched it back on
OPERATOR_DEFAULTS = {"system": {"push": False}}
POLICY = CategoryPolicy(defaults=OPERATOR_DEFAULTS)
WORDING = "Text me account alerts. Msg&data rates may apply. Reply STOP to cancel."


# --- (a) the pure pipeline ---------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    request: RoutingRequest
    facts: RecipientFacts
    now: datetime
    takes_its_path: Callable[[Routing], bool]  # checked once before timing


def _facts(**more: Any) -> RecipientFacts:
    return RecipientFacts(frozenset({"in_app", "fcm", "phone"}), PROVIDED, **more)


def _preferences(push: bool = True) -> PreferenceFacts:
    return PreferenceFacts({"push": push}, OPERATOR_DEFAULTS["system"], ZONE, "user", QUIET)


def _request(channels: tuple[str, ...] = PUSH_AND_INBOX, category: str = "system",
             critical: bool = False) -> RoutingRequest:
    return RoutingRequest(category, "normal", channels, None, critical=critical,
                          transactional=critical)


def _steps(routing: Routing) -> int:
    return len(routing.trace)


def scenarios() -> dict[str, Scenario]:
    everything = len(DECISION_STEPS)
    held_key = DedupFact("order-1", 3600, uuid.uuid4(), NOON - timedelta(minutes=5),
                         NOON + timedelta(minutes=55))
    open_digest = DigestTarget(uuid.uuid4(), "book-club", 300, False, NOON + timedelta(minutes=4),
                               "{count} new messages in Book club")
    consent = ConsentEvidence(GRANTED, 1, NOON - timedelta(days=30), "api", WORDING)
    return {
        "no_preferences": Scenario(_request(), _facts(), NOON, lambda r: (
            r.channels == PUSH_AND_INBOX and r.hold_until is None and _steps(r) == everything)),
        "preferences_quiet_hours_not_active": Scenario(
            _request(), _facts(preferences=_preferences()), NOON,
            lambda r: r.channels == PUSH_AND_INBOX and r.hold_until is None),
        "quiet_hours_holding": Scenario(
            _request(), _facts(preferences=_preferences()), NIGHT,
            lambda r: r.hold_reason == "quiet_hours" and r.hold_until is not None),
        "sms_with_consent_in_window": Scenario(
            _request(("sms", "in_app")),
            _facts(preferences=_preferences(), sms_consents={"+351912345678": consent}), NOON,
            lambda r: r.channels == ("sms", "in_app") and r.hold_until is None),
        "dedup_key_claimed": Scenario(
            _request(), _facts(dedup=DedupFact("order-1", 3600)), NOON,
            lambda r: r.channels == PUSH_AND_INBOX and r.suppressed is None),
        "dedup_duplicate_suppressed": Scenario(
            _request(), _facts(dedup=held_key), NOON,
            lambda r: r.suppressed is not None and "duplicate" in r.suppressed),
        "digest_join": Scenario(
            _request(), _facts(digest=open_digest), NOON,
            lambda r: r.digest_into == open_digest.digest_id),
        "critical_bypass": Scenario(
            _request(category="security", critical=True),
            _facts(preferences=_preferences(push=False)), NIGHT,
            lambda r: r.channels == PUSH_AND_INBOX and r.hold_until is None),
    }


def per_call_us(call: Callable[[], object], iterations: int) -> float:
    """CPU µs per call (this thread's CPU time: other processes on a shared machine take the
    core away without being counted)."""
    started = time.thread_time()
    for _ in range(iterations):
        call()
    return (time.thread_time() - started) * 1e6 / iterations


def pipeline(iterations: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, s in scenarios().items():
        routing = decide(s.request, s.facts, s.now, DECISION_STEPS)
        if not s.takes_its_path(routing):
            raise SystemExit(f"bench decisions: {name} did not take its path: {routing}")

        def decided(s: Scenario = s) -> Routing:
            return decide(s.request, s.facts, s.now, DECISION_STEPS)

        def recorded(s: Scenario = s) -> object:
            return decide(s.request, s.facts, s.now, DECISION_STEPS).records()

        alone = [per_call_us(decided, iterations) for _ in range(runs)]
        with_records = [per_call_us(recorded, iterations) for _ in range(runs)]
        results[name] = {"steps_asked": len(routing.trace),
                         "decide_cpu_us": round(statistics.median(alone), 2),
                         "decide_and_record_cpu_us": round(statistics.median(with_records), 2)}
    return results


# --- (b) the trigger handler over a real in-memory batch ---------------------------------

@dataclass(frozen=True)
class Population:
    log: EventLog
    plain: list[uuid.UUID]  # a user and an FCM token: part 1's recipients
    decided: list[uuid.UUID]  # also a consented phone number and preferences


def seed(recipients: int) -> Population:
    """Both kinds of recipient and the category's templates, through the commands' handlers,
    saved to an in-memory log; each decided recipient also has an open digest."""
    log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    batch = Batch(log.repository)
    at, rules = NOON - timedelta(days=1), ContactPointRules(20)

    def person(n: int, decided: bool) -> uuid.UUID:
        user: uuid.UUID = register_user(batch, RegisterUser(f"b{uuid.uuid4().hex[:12]}",
                                                            f"User {n}"), CAUSE).user_id
        register_device_token(batch, RegisterDeviceToken(
            user, uuid.uuid4(), uuid.uuid4(), "fcm", f"fcm:{uuid.uuid4().hex}{n:08d}", at,
            rules), CAUSE)
        if decided:
            phone = add_phone(batch, AddPhone(user, uuid.uuid4(), f"+35191{n:07d}", None, at,
                                              rules), CAUSE).contact_point_id
            grant_sms_consent(batch, GrantSmsConsent(user, phone, WORDING, "api", at), CAUSE)
            change_preferences(batch, ChangeNotificationPreferences(
                user, PreferenceChanges({("system", "push"): True}, ZONE, True, QUIET, True),
                "api", at, frozenset({"system", "security"})), CAUSE)
        return user

    plain = [person(n, False) for n in range(recipients)]
    decided = [person(recipients + n, True) for n in range(recipients)]
    for channel in ("push", "sms", "in_app"):
        create_template(batch, CreateTemplate(
            "system", channel, "default", TemplateParts("{{ title }}", "{{ body }}", None),
            {"title": "Sample", "body": "Sample body."},
            {"system": frozenset({"title", "body", "link"})}, at), CAUSE)
    log.save(*batch.touched())
    population = Population(log, plain, decided)
    opening = Batch(log.repository)  # the digest the digest shape's members join
    trigger_notifications(opening, shape_command(population, "all_steps_digest", NOON),
                          CAUSE)
    log.save(*opening.touched())
    return population


SHAPES = ("part1", "all_steps", "all_steps_sms", "all_steps_digest")


def shape_command(population: Population, shape: str, at: datetime) -> TriggerNotifications:
    """part1: content, no preferences, keys or templates (part 1's trigger); the others:
    decided recipients, a template, a unique dedup key, the operator's defaults."""
    base = TriggerNotifications(uuid.uuid4(), CALLER, tuple(population.plain), "system",
                                "normal", PUSH_AND_INBOX, Content("Bench", "Bench body."), at,
                                provided_kinds=PROVIDED)
    if shape == "part1":
        return base
    decided = replace(base, recipients=tuple(population.decided), policy=POLICY,
                      content=Content("", ""), template_variables={"title": "Bench",
                                                                   "body": "Bench body."},
                      dedup_key=f"bench-{uuid.uuid4().hex}")
    if shape == "all_steps_sms":
        return replace(decided, channels=("sms", "push", "in_app"))
    if shape == "all_steps_digest":
        return replace(decided, digest=DigestAsk("bench-digest", 300))
    return decided


def took_its_path(shape: str, made: list[Notification]) -> bool:
    if shape == "all_steps_digest":
        return all(n.state == DIGESTED for n in made)
    wanted = ["sms", "push"] if shape == "all_steps_sms" else ["push"]
    return all(n.state == QUEUED and list(n.channels) == wanted and n.inbox for n in made)


def loaded(population: Population, ids: list[uuid.UUID]) -> Batch:
    """A batch holding these aggregates (those in the log), as the writer's cache hands
    them over: read before the handler is timed."""
    batch = Batch(population.log.repository)
    for aggregate_id in ids:
        batch.find(object, aggregate_id)  # type: ignore[type-var]
    return batch


def handler(population: Population, triggers: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for shape in SHAPES:
        warm = Batch(population.log.repository)  # finds out what the handler reads
        answer = trigger_notifications(warm, shape_command(population, shape, NOON), CAUSE)
        made = [warm.find(Notification, nid) for nid in answer.notification_ids]
        if not took_its_path(shape, [n for n in made if n is not None]):
            raise SystemExit(f"bench decisions: the {shape} trigger did not take its path")
        reads = [a.id for a in warm.kept()]
        per_recipient = []
        for _ in range(runs):
            spent = 0.0
            for _ in range(triggers):
                batch, command = loaded(population, reads), shape_command(population, shape,
                                                                          NOON)
                started = time.thread_time()
                trigger_notifications(batch, command, CAUSE)
                spent += time.thread_time() - started
            per_recipient.append(spent * 1e6 / (triggers * len(command.recipients)))
        results[shape] = {"recipients_per_trigger": len(population.plain),
                          "cpu_us_per_recipient": round(statistics.median(per_recipient), 1),
                          "runs_cpu_us": [round(r, 1) for r in per_recipient]}
    results["all_steps_over_part1"] = round(results["all_steps"]["cpu_us_per_recipient"]
                                            / results["part1"]["cpu_us_per_recipient"], 2)
    return results


WRITER_VARIANTS = ("part1", "dedup_key", "template", "dedup_key+template")


def through_writer(recipients: int, runs: int) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    from bench.notifications import environment, save_templates
    from bench.notifications import seed as seed_profile
    from event_log.writer import GroupCommitWriter
    from parley.bootstrap import HANDLERS, event_log_env
    from parley.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        variables = {"PARLEY_DATA_DIR": str(Path(scratch) / "data"), "PARLEY_DATABASE_URL": "",
                     "PARLEY_LOG_LEVEL": "WARNING"}
        users, _ = seed_profile(variables, recipients, "all")
        save_templates(variables)
        with environment(variables):
            settings = Settings()
        log = EventLog(env=event_log_env(settings))
        writer = GroupCommitWriter(log, HANDLERS)
        writer.start()
        try:
            spent: dict[str, list[float]] = {v: [] for v in WRITER_VARIANTS}
            for _ in range(runs):
                for variant in WRITER_VARIANTS:  # alternating: the machine's load on each
                    command = TriggerNotifications(
                        uuid.uuid4(), CALLER, tuple(uuid.UUID(u) for u in users), "system",
                        "normal", ("in_app",), Content("Bench", "Bench body."),
                        datetime.now(UTC), policy=POLICY)
                    if "dedup_key" in variant:
                        command = replace(command, dedup_key=f"bench-{uuid.uuid4().hex}")
                    if "template" in variant:
                        command = replace(command, content=Content("", ""),
                                          template_variables={"title": "B", "body": "b"})
                    started = time.process_time()
                    writer.execute(command, CAUSE)
                    spent[variant].append((time.process_time() - started) * 1e3 / len(users))
        finally:
            writer.stop()
            log.close()
    results: dict[str, Any] = {v: {"cpu_ms_per_notification": round(statistics.median(t), 3),
                                   "runs_cpu_ms": [round(x, 3) for x in t]}
                               for v, t in spent.items()}
    results["recipients_per_trigger"] = recipients
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench decisions",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000,
                        help="decide() calls per scenario and run")
    parser.add_argument("--recipients", type=int, default=200, help="per trigger")
    parser.add_argument("--triggers", type=int, default=10, help="per shape and run")
    parser.add_argument("--writer-recipients", type=int, default=1000,
                        help="per trigger through the writer (c); 0: skip it")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if min(args.iterations, args.recipients, args.triggers, args.runs) < 1:
        parser.error("--iterations, --recipients, --triggers and --runs must be at least 1")
    load_before = os.getloadavg()
    decided = pipeline(args.iterations, args.runs)
    population = seed(args.recipients)
    handled = handler(population, args.triggers, args.runs)
    written = (through_writer(args.writer_recipients, args.runs) if args.writer_recipients
               else None)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_before": load_before,
                    "load_after": os.getloadavg()},
        "settings": vars(args), "steps": [step.name for step in DECISION_STEPS],
        "decide_per_notification": decided, "trigger_handler": handled,
        "trigger_through_the_writer_in_app": written}, indent=2))


if __name__ == "__main__":
    main()
