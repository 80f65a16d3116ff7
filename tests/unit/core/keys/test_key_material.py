"""Key material: format, entropy and the hash the seed's operators check by hand."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from functions.core.keys.material import generate_key, hash_key, key_prefix, same_secret


def test_generate_key__called_twice__prefixed_256_bit_and_distinct() -> None:
    # Given / When two keys are generated
    first, second = generate_key(), generate_key()
    # Then both carry the seed's prefix and 64 hex digits of randomness
    assert first.startswith("tm_key_")
    assert len(first) == len("tm_key_") + 64
    int(first.removeprefix("tm_key_"), 16)
    assert first != second


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_hash_key__any_key__equals_sha256sum_output() -> None:
    # Given a key
    key = generate_key()
    # When it is hashed here and by `echo -n "$KEY" | sha256sum`
    shell = subprocess.run(
        ["sha256sum"], input=key.encode(), capture_output=True, check=True
    ).stdout.decode()
    # Then both agree, lowercase hex
    assert hash_key(key) == shell.split()[0]


def test_key_prefix__key__first_twelve_characters_only() -> None:
    # Given / When / Then
    assert key_prefix("tm_key_0123456789abcdef") == "tm_key_01234"


def test_same_secret__equal_and_different__compares_exactly() -> None:
    # Given / When / Then
    assert same_secret("admin-secreto-123", "admin-secreto-123")
    assert not same_secret("admin-secreto-124", "admin-secreto-123")
    assert not same_secret("", "admin-secreto-123")
