"""SMS consent (TCPA): an opt-in records its wording, source and time; STOP and its synonyms
revoke, START restores only what a STOP withdrew, a replayed message changes nothing; the
consent step rules out non-transactional SMS for a recipient without consent on every one of
their numbers, and says which consent event it looked at."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.notifications.channels import IN_APP, SMS
from domain.notifications.consent_steps import (
    NO_CONSENT,
    SmsConsentRequired,
    numbers_without_consent,
)
from domain.notifications.decisions import RecipientFacts, RoutingRequest
from domain.notifications.sms_consent import (
    GRANTED,
    HELP_KEYWORDS,
    NONE,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    REMEMBERED_MESSAGES,
    REVOKED,
    SMS_REPLY,
    InvalidConsent,
    SmsConsent,
    keyword_of,
)
from tests.builders import a_cause, now

NUMBER = "+15555550123"
WORDING = "Text me offers from Parley. Up to 4 msgs/month. Reply STOP to cancel."


def a_consent() -> SmsConsent:
    return SmsConsent.start(NUMBER, a_cause())


def consented() -> SmsConsent:
    consent = a_consent()
    consent.opt_in(uuid.uuid4(), WORDING, "app:settings", now(), a_cause())
    return consent


def test_an_opt_in_records_the_exact_wording_the_source_and_the_time() -> None:
    consent, user, at = a_consent(), uuid.uuid4(), now()

    assert consent.opt_in(user, WORDING, "app:onboarding", at, a_cause())

    event = consent.collect_events()[-1]
    assert isinstance(event, SmsConsent.OptedIn)
    assert (event.wording, event.source, event.at, event.user_id) == (
        WORDING, "app:onboarding", at, user)
    assert consent.granted and consent.evidence is not None
    assert consent.evidence.version == event.originator_version


@pytest.mark.parametrize(("wording", "source", "field"), [
    ("", "app", "wording"), ("   ", "app", "wording"), ("x" * 2001, "app", "wording"),
    (WORDING, "", "source"), (WORDING, "has space", "source"), (WORDING, "s" * 65, "source"),
    (WORDING, "émoji", "source")])
def test_an_opt_in_without_wording_or_with_a_malformed_source_is_refused_unrecorded(
        wording: str, source: str, field: str) -> None:
    consent = a_consent()
    consent.collect_events()

    with pytest.raises(InvalidConsent) as refused:
        consent.opt_in(uuid.uuid4(), wording, source, now(), a_cause())

    assert refused.value.field == field
    assert consent.collect_events() == [] and consent.status == NONE


def test_the_same_opt_in_again_records_nothing_new_wording_does() -> None:
    consent, user = a_consent(), uuid.uuid4()
    consent.opt_in(user, WORDING, "app", now(), a_cause())

    assert not consent.opt_in(user, WORDING, "app", now(), a_cause())
    assert consent.opt_in(user, WORDING + " Msg&data rates may apply.", "app", now(), a_cause())


@pytest.mark.parametrize("keyword", sorted(OPT_OUT_KEYWORDS))
def test_each_stop_keyword_revokes_consent_once(keyword: str) -> None:
    consent = consented()

    assert consent.reply(keyword, "twilio", "SM1", now(), a_cause())
    assert not consent.reply(keyword, "twilio", "SM2", now(), a_cause())  # already revoked

    assert consent.status == REVOKED
    assert consent.evidence is not None and consent.evidence.source == SMS_REPLY


@pytest.mark.parametrize("keyword", sorted(OPT_IN_KEYWORDS))
def test_each_start_keyword_restores_only_a_revoked_consent(keyword: str) -> None:
    never = a_consent()
    assert not never.reply(keyword, "twilio", "SM1", now(), a_cause())
    assert never.status == NONE

    stopped = consented()
    stopped.reply("STOP", "twilio", "SM2", now(), a_cause())
    assert stopped.reply(keyword, "twilio", "SM3", now(), a_cause())
    assert stopped.status == GRANTED


def test_a_replayed_message_has_no_second_effect() -> None:
    consent = consented()
    consent.reply("STOP", "twilio", "SM-stop", now(), a_cause())
    consent.reply("START", "twilio", "SM-start", now(), a_cause())

    assert not consent.reply("STOP", "twilio", "SM-stop", now(), a_cause())
    assert consent.status == GRANTED


def test_only_the_latest_message_ids_are_remembered() -> None:
    consent = consented()
    for index in range(REMEMBERED_MESSAGES + 5):
        consent.reply("STOP" if index % 2 == 0 else "START", "vonage", f"m{index}", now(),
                      a_cause())

    assert len(consent.messages_seen) == REMEMBERED_MESSAGES
    assert consent.seen(f"m{REMEMBERED_MESSAGES + 4}") and not consent.seen("m0")


@given(st.sampled_from(sorted(OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS)),
       st.sampled_from([str.lower, str.upper, str.title]), st.text(" \t\n", max_size=3))
def test_a_keyword_is_the_whole_message_in_any_case(keyword: str, case: object,
                                                   padding: str) -> None:
    assert callable(case)
    assert keyword_of(padding + case(keyword) + padding) == keyword


@pytest.mark.parametrize("text", ["please stop", "STOP IT", "stopp", "", "hi"])
def test_other_messages_are_no_keyword(text: str) -> None:
    assert keyword_of(text) is None


# The consent step

STEP = SmsConsentRequired()


def request(transactional: bool = False, channels: tuple[str, ...] = (SMS, IN_APP)
            ) -> RoutingRequest:
    return RoutingRequest("marketing", "normal", channels, None, transactional=transactional)


def facts(**consents: SmsConsent | None) -> RecipientFacts:
    return RecipientFacts(frozenset({"phone", "in_app"}), frozenset({"phone", "in_app"}),
                          sms_consents={n: (c.evidence if c else None)
                                        for n, c in consents.items()})


def test_sms_without_consent_is_ruled_out_and_says_so() -> None:
    decision = STEP.decide(request(), facts(**{NUMBER: None}), now())

    assert decision.ruled_out == ((SMS, NO_CONSENT),)
    assert decision.inputs["numbers"] == [{"number": "…23", "consent": NONE}]


def test_sms_after_stop_is_ruled_out_naming_the_stop_event() -> None:
    consent = consented()
    consent.reply("STOP", "twilio", "SM9", now() + timedelta(minutes=1), a_cause())

    decision = STEP.decide(request(), facts(**{NUMBER: consent}), now())

    assert decision.ruled_out == ((SMS, NO_CONSENT),)
    [shown] = decision.inputs["numbers"]
    assert (shown["consent"], shown["consent_version"], shown["consent_source"]) == (
        REVOKED, consent.version, SMS_REPLY)


def test_sms_with_consent_stays_naming_the_opt_in() -> None:
    consent = consented()

    decision = STEP.decide(request(), facts(**{NUMBER: consent}), now())

    assert decision.ruled_out == ()
    assert decision.inputs["numbers"][0]["consent"] == GRANTED
    assert NUMBER not in repr(decision.inputs)


def test_one_consented_number_keeps_sms_and_the_others_are_named_for_dispatch_to_leave_out(
        ) -> None:
    consents = facts(**{NUMBER: consented(), "+15555550999": None}).sms_consents

    decision = STEP.decide(request(), facts(**{NUMBER: consented(), "+15555550999": None}),
                           now())

    assert decision.ruled_out == ()
    assert sorted(n["consent"] for n in decision.inputs["numbers"]) == [GRANTED, NONE]
    assert numbers_without_consent(request(), consents) == {"+15555550999"}
    assert numbers_without_consent(request(transactional=True), consents) == frozenset()


def test_sms_is_ruled_out_when_no_number_consented() -> None:
    decision = STEP.decide(request(), facts(**{NUMBER: None, "+15555550999": None}), now())

    assert decision.ruled_out == ((SMS, NO_CONSENT),)


def test_transactional_sms_needs_no_consent() -> None:
    decision = STEP.decide(request(transactional=True), facts(**{NUMBER: None}), now())

    assert decision.ruled_out == () and decision.inputs == {"transactional": True}


def test_a_request_without_sms_is_not_looked_at() -> None:
    decision = STEP.decide(request(channels=(IN_APP,)), facts(**{NUMBER: None}), now())

    assert decision.ruled_out == () and decision.inputs == {}


ACTIONS = st.lists(st.tuples(
    st.sampled_from(["opt_in", "opt_out", *sorted(OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS)]),
    st.integers(0, 5)), max_size=30)


@given(ACTIONS)
def test_consent_follows_its_model_and_a_seen_message_never_changes_it(
        actions: list[tuple[str, int]]) -> None:
    """The model: an opt-in grants; an opt-out, or a STOP word, revokes; a START word restores
    only a revoked consent; a message id already seen does nothing (ids drawn from a few, so
    repeats are common)."""
    consent, user, model, seen = a_consent(), uuid.uuid4(), NONE, set()
    for action, message in actions:
        message_id = f"m{message}"
        if action == "opt_in":
            consent.opt_in(user, WORDING, "app", now(), a_cause())
            model = GRANTED
        elif action == "opt_out":
            consent.opt_out(user, "api", now(), a_cause())
            model = REVOKED if model == GRANTED else model
        else:
            changed = consent.reply(action, "twilio", message_id, now(), a_cause())
            before = model
            if message_id not in seen:
                if action in OPT_OUT_KEYWORDS:
                    model = REVOKED
                elif model == REVOKED:
                    model = GRANTED
            assert changed == (model != before)
            if changed:
                seen.add(message_id)
        assert consent.status == model
