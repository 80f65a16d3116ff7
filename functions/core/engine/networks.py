"""``ip_in`` / ``not_ip_in``: is the attribute an address inside one of the ranges?

The value is a non-empty array of IPv4 and IPv6 ranges in CIDR notation
(``"10.0.0.0/8"``, ``"2001:db8::/32"``); a single address is a range of one
(``/32`` or ``/128``). A range with bits set beyond its prefix (``"10.0.0.1/8"``) is
refused at parse as the typo it usually is, naming the range meant. The canonical form
writes each range with its prefix (``"192.0.2.7"`` is stored as ``"192.0.2.7/32"``).

The attribute must be a string holding one IPv4 or IPv6 address (an IPv6 zone such as
``%eth0`` is ignored); anything else -- a range, a host name, a number -- is no address
and matches neither operator. An IPv4-mapped IPv6 address (``::ffff:192.0.2.7``) is
also tested as its IPv4 address. ``not_ip_in`` matches an address outside every range.

Matching costs one set lookup per distinct prefix length in the list, not one test per
range: ranges are kept as their network bits, grouped by prefix length.
"""

from __future__ import annotations

import ipaddress

from functions.core.engine.validation import RuleValidationError, child, expect_list
from functions.core.engine.values import Predicate

_MAX_ADDRESS_LENGTH = 64
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_range(value: object, path: str) -> Network:
    """One range of the value, or RuleValidationError naming it."""
    if not isinstance(value, str) or not value or len(value) > _MAX_ADDRESS_LENGTH:
        raise RuleValidationError(path, "must be an IPv4 or IPv6 address or CIDR range")
    if "%" in value:
        raise RuleValidationError(path, "must be a range without an IPv6 zone (%...)")
    try:
        return ipaddress.ip_network(value)
    except ValueError:
        pass
    try:
        meant = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise RuleValidationError(
            path, "must be an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8"
        ) from None
    raise RuleValidationError(
        path, f"has bits set beyond its /{meant.prefixlen} prefix: did you mean {meant}?"
    )


def read_address(value: object) -> Address | None:
    """The address a string attribute holds; None for anything else."""
    if not isinstance(value, str) or len(value) > _MAX_ADDRESS_LENGTH:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def compile_networks(
    inclusive: bool, value: object, path: str
) -> tuple[tuple[str, ...], Predicate]:
    """The canonical ranges and the predicate of ``ip_in`` (inclusive) or ``not_ip_in``."""
    ranges = [
        parse_range(item, child(path, index))
        for index, item in enumerate(expect_list(value, path, non_empty=True))
    ]
    canonical = tuple(dict.fromkeys(str(network) for network in ranges))
    # version -> [(shift, {network bits})]: an address is inside when its top bits are there
    table: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
    for network in ranges:
        shift = network.max_prefixlen - network.prefixlen
        table[network.version].setdefault(shift, set()).add(int(network.network_address) >> shift)
    groups = {
        version: tuple((shift, frozenset(bits)) for shift, bits in sorted(by_shift.items()))
        for version, by_shift in table.items()
    }

    def inside(address: Address) -> bool:
        number = int(address)
        for shift, bits in groups[address.version]:
            if number >> shift in bits:
                return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return inside(address.ipv4_mapped)
        return False

    def test(actual: object) -> bool:
        address = read_address(actual)
        return address is not None and inside(address) is inclusive

    return canonical, test
