"""VAPID (RFC 8292): the application server's key pair and the signed JWTs that identify it to
push services. py_vapid does the ES256 signing; this module reads keys, makes new pairs
(`parley vapid generate`) and keeps one JWT per push service for hours instead of signing every
message."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid, VapidException
from py_vapid.utils import b64urldecode, b64urlencode, num_to_bytes

# RFC 8292 §2: exp at most 24 h ahead. 12 h leaves room for a push service's clock running
# behind ours; a token is renewed once less than an hour of it remains.
JWT_LIFETIME_SECONDS = 12 * 3600
JWT_RENEWAL_MARGIN_SECONDS = 3600
# Audiences are push services' origins (a handful in practice), but subscriptions come from
# users, so the cache is bounded all the same.
MAX_CACHED_AUDIENCES = 1024
PRIVATE_KEY_BYTES = 32


@dataclass(frozen=True)
class VapidKeyPair:
    """A new key pair, as `parley vapid generate` prints it."""

    private_key: str = field(repr=False)  # base64url of the raw 32-byte P-256 scalar
    application_server_key: str  # base64url of the uncompressed public point (65 bytes)


def new_key_pair() -> VapidKeyPair:
    vapid = Vapid()
    vapid.generate_keys()
    scalar = vapid.private_key.private_numbers().private_value
    return VapidKeyPair(b64urlencode(num_to_bytes(scalar, PRIVATE_KEY_BYTES)),
                        application_server_key(vapid))


def application_server_key(vapid: Vapid) -> str:
    point = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    encoded: str = b64urlencode(point)
    return encoded


def key_from_raw(raw: str) -> Vapid:
    """The key `parley vapid generate` printed. ValueError, never showing the key, if not one."""
    try:
        scalar = b64urldecode(raw.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError("is not base64url") from error
    if len(scalar) != PRIVATE_KEY_BYTES:
        raise ValueError(f"must be {PRIVATE_KEY_BYTES} bytes of base64url (a raw P-256 key)")
    try:
        return Vapid.from_raw(raw.strip().encode("ascii"))
    except ValueError:  # zero, or not below the curve's order
        raise ValueError("is not a P-256 private key") from None


def key_from_file(path: Path) -> Vapid:
    """A raw base64url key (as printed by `parley vapid generate`) or a PEM/DER one, in a file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot be read ({type(error).__name__})") from None
    if "-----BEGIN" in text:
        try:
            return Vapid.from_pem(text.encode("ascii"))
        except (ValueError, TypeError, VapidException):
            raise ValueError("holds no readable PEM private key") from None
    try:
        if len(b64urldecode(text.encode("ascii"))) == PRIVATE_KEY_BYTES:
            return key_from_raw(text)
        return Vapid.from_der(text.encode("ascii"))
    except (ValueError, TypeError, VapidException):
        raise ValueError("holds neither a raw base64url nor a DER private key") from None


class VapidSigner:
    """`Authorization: vapid t=<jwt>, k=<key>` values per audience (a push service's origin),
    signed by py_vapid with claims aud, exp and sub; cached unless `cache=False`."""

    def __init__(self, key: Vapid, subject: str, *, cache: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._subject = subject
        self._cache = cache
        self._clock = clock
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.public_key = application_server_key(key)
        self.signatures = 0  # how many JWTs were signed (the cache's effect, for tests/bench)

    def __repr__(self) -> str:
        return f"VapidSigner(public_key={self.public_key!r})"

    def authorization(self, audience: str) -> str:
        """The header value; raises VapidException if `audience` is not an origin py_vapid
        accepts."""
        now = self._clock()
        cached = self._tokens.get(audience) if self._cache else None
        if cached is not None and cached[1] - now > JWT_RENEWAL_MARGIN_SECONDS:
            self._tokens.move_to_end(audience)
            return cached[0]
        expires = int(now) + JWT_LIFETIME_SECONDS
        signed = self._key.sign({"aud": audience, "exp": expires, "sub": self._subject})
        self.signatures += 1
        header: str = signed["Authorization"]
        if self._cache:
            self._tokens[audience] = (header, expires)
            self._tokens.move_to_end(audience)
            while len(self._tokens) > MAX_CACHED_AUDIENCES:
                self._tokens.popitem(last=False)
        return header
