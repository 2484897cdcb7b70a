"""Push to Android (and iOS through Firebase) over FCM HTTP v1.

`POST {endpoint}/v1/projects/{project}/messages:send` with a service account's OAuth2 bearer
(adapters/notifications/google_oauth.py), one for every connection: critical and high on one
of their own, the rest on `bulk_connections` others (adapters/notifications/push_connections.py).
The attempt id is the message's collapse key on
Android and its `apns-collapse-id` on iOS, so an attempt sent twice is shown once. Errors are
read from the `google.firebase.fcm.v1.FcmError` detail FCM puts in its answers
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode); what an error says is
kept to its codes and field names, since FCM quotes the values it refuses.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

from adapters.notifications import entry_fields
from adapters.notifications.google_oauth import AccessTokens, ServiceAccount, TokenRefused
from adapters.notifications.http_posts import retryable, within
from adapters.notifications.push_connections import (
    DEFAULT_BULK_CONNECTIONS,
    PushConnections,
    bulk_connections,
)
from adapters.notifications.registry import ProviderEnvironment
from commands.notifications.providers import Delivery, ProviderAnswer
from domain.notifications.channels import CRITICAL, FCM_TOKEN, HIGH, PUSH

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEFAULT_ENDPOINT = "https://fcm.googleapis.com"
MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM keeps a message four weeks at most
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# 401s that are not about our bearer: Firebase's own APNs or Web Push credentials are wrong
NOT_OUR_BEARER = frozenset({"THIRD_PARTY_AUTH_ERROR"})
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")  # Google Cloud's rule for project ids

log = logging.getLogger("parley.notifications.fcm")


class FcmProvider:
    """One Firebase project, reached with one service account."""

    def __init__(self, name: str, project_id: str, account: ServiceAccount, *,
                 endpoint: str = DEFAULT_ENDPOINT, timeout_seconds: float = 10.0,
                 bulk_connections: int = DEFAULT_BULK_CONNECTIONS, ca_file: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._name = name
        self._project_id = project_id
        self._send_url = f"{endpoint}/v1/projects/{project_id}/messages:send"
        self._timeout = timeout_seconds
        self._clock = clock
        self._connections = PushConnections(bulk_connections=bulk_connections,
                                            timeout_seconds=timeout_seconds, ca_file=ca_file)
        self._tokens = AccessTokens(account, FCM_SCOPE, self._connections.urgent,
                                    timeout_seconds=timeout_seconds, clock=clock)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], environment: ProviderEnvironment, *,
                    clock: Callable[[], float] = time.time) -> Self:
        if (entry.get("service_account") is None) == (entry.get("service_account_file") is None):
            raise ValueError("exactly one of service_account and service_account_file "
                             "must be given")
        if entry.get("service_account") is not None:
            account = ServiceAccount.from_key(entry["service_account"], "service_account")
        else:
            path = entry_fields.existing_file(entry, "service_account_file")
            assert path is not None
            account = ServiceAccount.from_file(path, "service_account_file")
        entry_fields.allowed_url(account.token_uri, "service_account.token_uri", environment)
        project_id = entry_fields.text(entry, "project_id")
        if not PROJECT_ID.fullmatch(project_id):
            raise ValueError("project_id must be a Google Cloud project id (6 to 30 lowercase "
                             "letters, digits and hyphens)")
        return cls(entry_fields.text(entry, "name"), project_id, account,
                   endpoint=entry_fields.endpoint(entry, "endpoint", DEFAULT_ENDPOINT,
                                                  environment),
                   timeout_seconds=entry_fields.positive_seconds(
                       entry, "timeout_seconds", environment.timeout_seconds),
                   bulk_connections=bulk_connections(entry),
                   ca_file=entry_fields.existing_file(entry, "ca_file"), clock=clock)

    def __repr__(self) -> str:
        return f"FcmProvider(name={self._name!r}, project_id={self._project_id!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel(self) -> str:
        return PUSH

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({FCM_TOKEN})

    async def send(self, delivery: Delivery) -> ProviderAnswer:
        return await within(self._timeout, self._sent(delivery))

    async def _sent(self, delivery: Delivery) -> ProviderAnswer:
        body = {"message": fcm_message(delivery, self._clock())}
        for first_try in (True, False):
            try:
                bearer = await self._tokens.current()
            except TokenRefused as refused:
                return self._noted(refused.answer)
            response = await self._connections.post(
                delivery.priority, self._send_url, seconds=self._timeout, json=body,
                headers={"authorization": f"Bearer {bearer}"})
            if isinstance(response, ProviderAnswer):
                return response
            if (response.status_code == 401 and first_try
                    and fcm_error(response).code not in NOT_OUR_BEARER):
                self._tokens.refused(bearer)  # expired or revoked early: exchange, send again
                continue
            return self._noted(answer_for(response))
        raise AssertionError("the second try always answers")

    async def aclose(self) -> None:
        await self._connections.aclose()

    def _noted(self, answer: ProviderAnswer) -> ProviderAnswer:
        if answer.code == "auth" and not answer.retryable:
            log.warning("%s: FCM refused the service account (%s); every send will fail "
                        "until its configuration is fixed", self._name, answer.detail)
        return answer


def fcm_message(delivery: Delivery, now: float) -> dict[str, Any]:
    """The HTTP v1 `message` for one delivery (`now` dates its iOS expiry)."""
    urgent = delivery.priority in (CRITICAL, HIGH)
    ttl = max(0, min(delivery.ttl_seconds, MAX_TTL_SECONDS))
    return {
        "token": delivery.address.value,
        "notification": {"title": delivery.content.title, "body": delivery.content.body},
        "data": fcm_data(delivery),
        "android": {"priority": "HIGH" if urgent else "NORMAL", "ttl": f"{ttl}s",
                    "collapse_key": str(delivery.dedup_key)},  # one shown across retries
        "apns": {"headers": {"apns-collapse-id": str(delivery.dedup_key),
                             "apns-priority": "10" if urgent else "5",
                             "apns-expiration": str(int(now) + ttl if ttl else 0)}},
    }


def fcm_data(delivery: Delivery) -> dict[str, str]:
    """The content's data as FCM takes it (every value a string; JSON for the others), with
    the ids an app needs to report a click and the deep link."""
    data = {key: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for key, value in delivery.content.data.items()}
    data["notification_id"] = str(delivery.notification_id)
    data["attempt_id"] = str(delivery.attempt_id)
    if delivery.content.deep_link:
        data["deep_link"] = delivery.content.deep_link
    return data


@dataclass(frozen=True)
class FcmError:
    """What an FCM error answer says: its FcmError code (or, lacking one, its status), the
    fields a BadRequest detail names, and whether it is about the registration token."""

    status: str
    code: str
    fields: tuple[str, ...]
    about_token: bool


def fcm_error(response: httpx.Response) -> FcmError:
    try:
        error = response.json().get("error", {})
        status, message = str(error.get("status", "")), str(error.get("message", ""))
        details = [d for d in error.get("details", []) if isinstance(d, Mapping)]
    except (ValueError, AttributeError, TypeError):
        status, message, details = "", "", []
    codes = [str(d.get("errorCode")) for d in details if d.get("@type") == FCM_ERROR_TYPE]
    fields = tuple(str(violation.get("field", ""))
                   for d in details if d.get("@type") == BAD_REQUEST_TYPE
                   for violation in d.get("fieldViolations", []) if isinstance(violation, Mapping))
    code = codes[0] if codes else status or str(response.status_code)
    about_token = "message.token" in fields or "registration token" in message.lower()
    return FcmError(status, code, fields, about_token)


def answer_for(response: httpx.Response) -> ProviderAnswer:
    """What FCM's answer to messages:send means for the delivery."""
    status = response.status_code
    if status == 200:
        try:
            name = response.json()["name"]
        except (ValueError, KeyError, TypeError):
            name = None
        return ProviderAnswer.accepted_as(name if isinstance(name, str) else None)
    error = fcm_error(response)
    detail = " ".join([str(status), error.status, *error.fields]).strip()
    if error.code == "UNREGISTERED" or (error.code == "INVALID_ARGUMENT" and error.about_token):
        return ProviderAnswer.failed(error.code, retryable=False, detail=detail,
                                     address_gone=True)
    if status == 429 or status >= 500:
        return retryable(error.code, response, detail)
    if status in (401, 403) and error.code not in ("THIRD_PARTY_AUTH_ERROR",
                                                    "SENDER_ID_MISMATCH"):
        return ProviderAnswer.failed("auth", retryable=False, detail=detail)
    return ProviderAnswer.failed(error.code, retryable=False, detail=detail)
