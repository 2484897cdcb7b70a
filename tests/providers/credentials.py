"""Throwaway key material for the providers' stand-ins: a Google service account's RSA key,
an Apple team's P-256 signing key (.p8). The private halves go to the adapter under test, the
public halves to the stand-in that verifies what the adapter signed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def pkcs8_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class ServiceAccountKey:
    """A Google service account's key, as its downloaded JSON key file carries it."""

    client_email: str
    private_key_pem: str = field(repr=False)
    public_key: rsa.RSAPublicKey = field(repr=False)
    project_id: str = "parley-test"

    def key_file(self, token_uri: str) -> dict[str, Any]:
        """The key file's JSON object (the fields Google puts in it), for `token_uri`."""
        return {"type": "service_account", "project_id": self.project_id,
                "private_key_id": "0" * 40, "private_key": self.private_key_pem,
                "client_email": self.client_email, "client_id": "1" * 21,
                "token_uri": token_uri}

    def write(self, directory: Path, token_uri: str) -> Path:
        import json

        path = directory / "service-account.json"
        path.write_text(json.dumps(self.key_file(token_uri)))
        return path


def service_account_key(client_email: str = "parley-push@parley-test.iam.gserviceaccount.com"
                        ) -> ServiceAccountKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ServiceAccountKey(client_email, pkcs8_pem(private),
                             private.public_key())


@dataclass(frozen=True)
class AppleSigningKey:
    """An Apple Developer team's token signing key: its .p8 PEM and the ids that name it."""

    team_id: str
    key_id: str
    private_key_pem: str = field(repr=False)
    public_key: ec.EllipticCurvePublicKey = field(repr=False)


def apple_signing_key(team_id: str = "TEAM123456", key_id: str = "KEY1234567"
                      ) -> AppleSigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    return AppleSigningKey(team_id, key_id, pkcs8_pem(private),
                           private.public_key())
