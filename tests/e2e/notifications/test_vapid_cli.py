"""`parley vapid generate` prints a VAPID key pair that the Web Push provider takes and that a
push service accepts signatures from."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from adapters.notifications.registry import ProviderEnvironment
from adapters.notifications.vapid import VapidSigner, key_from_raw
from adapters.notifications.webpush import WebPushProvider
from parley.cli import app


def pair_printed(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    assert len(lines) == 2, stdout
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def printed() -> dict[str, str]:
    """What the installed command prints (one process: starting one takes seconds here)."""
    done = subprocess.run([sys.executable, "-m", "parley", "vapid", "generate"],
                          capture_output=True, text=True, timeout=60, check=True)
    return pair_printed(done.stdout)


def unb64url(text: str) -> bytes:
    assert "=" not in text and "+" not in text and "/" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_it_prints_a_raw_p256_private_key_and_its_uncompressed_public_point(
        printed: dict[str, str]) -> None:
    assert set(printed) == {"vapid_private_key", "application_server_key"}
    scalar = unb64url(printed["vapid_private_key"])
    point = unb64url(printed["application_server_key"])
    assert len(scalar) == 32
    assert len(point) == 65 and point[0] == 4
    private = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert private.public_key().public_numbers() == public.public_numbers()


def test_each_run_makes_a_new_pair(printed: dict[str, str]) -> None:
    again = CliRunner().invoke(app, ["vapid", "generate"])

    assert again.exit_code == 0, again.output
    another = pair_printed(again.stdout)
    assert another["vapid_private_key"] != printed["vapid_private_key"]
    assert another["application_server_key"] != printed["application_server_key"]


def test_the_webpush_provider_signs_with_the_printed_key(printed: dict[str, str]) -> None:
    provider = WebPushProvider.from_config(
        {"name": "webpush", "kind": "webpush", "subject": "mailto:ops@parley.example",
         "vapid_private_key": printed["vapid_private_key"]}, ProviderEnvironment())
    assert provider.application_server_key == printed["application_server_key"]
    asyncio.run(provider.aclose())
    header = VapidSigner(key_from_raw(printed["vapid_private_key"]),
                         "mailto:ops@parley.example").authorization("https://push.example")
    parameters = dict(p.strip().split("=", 1) for p in header.removeprefix("vapid ").split(","))
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unb64url(parameters["k"]))
    claims = jwt.decode(parameters["t"], public, algorithms=["ES256"],
                        audience="https://push.example")
    assert parameters["k"] == printed["application_server_key"]
    assert claims["sub"] == "mailto:ops@parley.example"
