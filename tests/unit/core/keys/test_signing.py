"""What the functions tell each other through Redis is sealed with their shared secret:
only the same secret and purpose open it, and any change to it is refused."""

from __future__ import annotations

import secrets

import pytest

from functions.core.keys.signing import KEYS_COPY, NOTICE, Signer

SIGNER = Signer(secrets.token_hex(32))


def test_seal__opened_with_the_same_secret_and_purpose__the_payload() -> None:
    # Given / When / Then
    assert SIGNER.open(NOTICE, SIGNER.seal(NOTICE, b'{"x":1}')) == b'{"x":1}'


@pytest.mark.parametrize(
    "sealed",
    [
        pytest.param(Signer(secrets.token_hex(32)).seal(NOTICE, b"{}"), id="another secret"),
        pytest.param(SIGNER.seal(KEYS_COPY, b"{}"), id="another purpose"),
        pytest.param(SIGNER.seal(NOTICE, b"{}")[:-1] + b"]", id="payload changed"),
        pytest.param(b"{}", id="unsealed"),
        pytest.param(b"tm1." + b"0" * 64 + b".{}", id="made-up mac"),
        pytest.param(b"tm1." + "é".encode() * 32 + b".{}", id="mac not hex"),
        pytest.param(b"tm1.short", id="truncated"),
    ],
)
def test_open__anything_not_sealed_by_the_secret__none(sealed: bytes) -> None:
    # Given / When / Then
    assert SIGNER.open(NOTICE, sealed) is None


def test_signer__repr__never_the_secret() -> None:
    # Given a secret
    secret = secrets.token_hex(32)
    # When / Then its signer's representation does not show it
    assert secret not in repr(Signer(secret))
