"""The throttles as configured: settings with their defaults, provider quotas from a provider
entry's own keys (refused clearly, never echoing the entry), and buckets per profile."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from adapters.notifications.memory_buckets import MemoryThrottleBuckets
from adapters.notifications.redis_buckets import RedisThrottleBuckets
from domain.notifications.throttles import BucketRule
from parley.notification_engine import (
    build_providers,
    provider_quotas,
    throttle_buckets,
    throttle_policy,
)
from parley.settings import Settings

HOOKS = {"name": "hooks", "kind": "webhook", "timeout_seconds": 2}


def test_by_default_a_recipient_gets_sixty_non_critical_an_hour_and_nothing_else_is_limited(
) -> None:
    policy = throttle_policy(Settings())
    assert policy.recipient == BucketRule(60, 60 / 3600)
    assert policy.recipient_bulk is None and policy.channels == {} and policy.providers == {}
    assert policy.critical_categories == frozenset({"security", "payment"})


def test_every_throttle_is_configurable_and_a_zero_limit_is_none() -> None:
    settings = Settings(notification_recipient_limit=0, notification_recipient_bulk_per_day=3,
                        notification_channel_rates={"sms": 2.5},
                        notification_providers=json.dumps([{**HOOKS, "rate_per_second": 50}]))
    policy = throttle_policy(settings)
    assert policy.recipient is None
    assert throttle_policy(Settings(notification_critical_categories="security,account")
                           ).critical_categories == frozenset({"security", "account"})
    assert policy.recipient_bulk == BucketRule(3, 3 / 86400)
    assert policy.channels == {"sms": BucketRule(3, 2.5)}
    assert policy.providers == {"hooks": BucketRule(50, 50)}


def test_channel_rates_name_known_channels_and_positive_rates(monkeypatch) -> None:
    monkeypatch.setenv("PARLEY_NOTIFICATION_CHANNEL_RATES", '{"fax": 1}')
    with pytest.raises(ValidationError, match="unknown channel"):
        Settings()
    monkeypatch.setenv("PARLEY_NOTIFICATION_CHANNEL_RATES", '{"sms": 0}')
    with pytest.raises(ValidationError, match="positive number"):
        Settings()


def test_a_quota_is_the_entrys_own_and_its_adapter_never_sees_the_keys() -> None:
    entry = {**HOOKS, "rate_per_second": 2, "burst": 5}
    assert provider_quotas([entry]) == {"hooks": BucketRule(5, 2)}
    # the webhook adapter refuses keys it does not know: built, it was not given these
    [provider] = build_providers(Settings(notification_providers=json.dumps([entry])))
    assert provider.name == "hooks"


@pytest.mark.parametrize(("keys", "message"), [
    ({"rate_per_second": 0}, "rate_per_second must be a positive number"),
    ({"rate_per_second": "fast"}, "rate_per_second must be a positive number"),
    ({"rate_per_second": True}, "rate_per_second must be a positive number"),
    ({"burst": 3}, "burst needs rate_per_second"),
    ({"rate_per_second": 1, "burst": 0.5}, "burst must be at least 1"),
])
def test_a_bad_quota_names_the_provider_and_the_key(keys: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        provider_quotas([{**HOOKS, "secret": "s3cr3t-value", **keys}])
    assert "'hooks'" in str(refused.value) and "s3cr3t" not in str(refused.value)


def test_production_shares_buckets_in_redis_and_the_embedded_default_keeps_them_in_process(
) -> None:
    assert isinstance(throttle_buckets(Settings(database_url=None)), MemoryThrottleBuckets)
    shared = throttle_buckets(Settings(database_url="postgresql://parley@127.0.0.1:1/parley",
                                       redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(shared, RedisThrottleBuckets)
    shared.close()
