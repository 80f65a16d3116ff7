"""What the functions tell each other about keys through Redis carries an HMAC-SHA256
made with `GRANT_SECRET`, a secret every function shares and Redis never sees: the key
notices (`snapshot.notices`) and the Redis copy of the keys (`snapshot.copy`). A Redis
writer without the secret can delete or replay what was signed, never make it up.

A sealed message is `tm1.<64 hex digits>.<payload>`; the MAC covers a purpose (so a
value signed as one thing is never accepted as another) and the payload bytes.

Rotating the secret needs no second variable: processes with different secrets ignore
each other's notices and copy, and fall back to the version check in PostgreSQL (see
`snapshot.keeper`), so changes take up to the check period to arrive while old and new
processes overlap, and nothing unsigned or wrongly signed is ever trusted.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = b"tm1."
_MAC_HEX = 64

NOTICE = "notice"
KEYS_COPY = "keys-copy"


class Signer:
    """Seals and opens messages with one secret (at least 32 characters: `settings`)."""

    __slots__ = ("_key",)

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a signing secret must not be empty")
        self._key = hashlib.sha256(b"togglemaster-grant-secret\x00" + secret.encode()).digest()

    def __repr__(self) -> str:
        return "Signer(<secret>)"

    def mac(self, purpose: str, payload: bytes) -> str:
        return hmac.new(self._key, purpose.encode() + b"\x00" + payload, hashlib.sha256).hexdigest()

    def valid(self, purpose: str, payload: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.mac(purpose, payload), mac)

    def seal(self, purpose: str, payload: bytes) -> bytes:
        return PREFIX + self.mac(purpose, payload).encode() + b"." + payload

    def open(self, purpose: str, sealed: bytes) -> bytes | None:
        """The payload if `sealed` carries a valid MAC for `purpose`; else None."""
        if not sealed.startswith(PREFIX):
            return None
        body = sealed[len(PREFIX) :]
        mac, payload = body[:_MAC_HEX], body[_MAC_HEX + 1 :]
        if body[_MAC_HEX : _MAC_HEX + 1] != b"." or len(mac) != _MAC_HEX:
            return None
        try:
            given = mac.decode("ascii")
        except UnicodeDecodeError:
            return None
        return payload if self.valid(purpose, payload, given) else None


def is_sealed(raw: bytes) -> bool:
    return raw.startswith(PREFIX)
