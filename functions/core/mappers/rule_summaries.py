"""A stored rule document in a few words, for the overview: "30 % rollout",
"2 rules: segment beta, country in [PT]; otherwise off".

It reads the stored document as it is, without compiling it (a page shows hundreds), and
never fails: a document it cannot read is "unreadable rules", as evaluation would answer
ERROR for it. `rollout` is the share of users served by a lone percentage rule: the
seed's `{"type": "PERCENTAGE", "value": 30}`, or one PERCENTAGE rule whose fallthrough
serves another variant; any other document has none (its summary says what it does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PHRASE = 60
"""A rule's phrase is cut there ("…"): the summary is a glance, the rules are a click away."""
_MAX_LISTED = 3


@dataclass(frozen=True, slots=True)
class Summary:
    enabled: bool
    count: int
    kinds: list[str]
    summary: str
    rollout: float | None


def summarise(*, rules: object, enabled: bool) -> Summary:
    """`rules`: the stored document; `enabled`: the rule row's `is_enabled`."""
    if isinstance(rules, Mapping) and "rules" not in rules and "type" in rules:
        rollout = _number(rules.get("value"))
        return Summary(
            enabled,
            1,
            ["PERCENTAGE"],
            _switched(f"{_pct(rules.get('value'))} rollout", enabled),
            rollout,
        )
    if not isinstance(rules, Mapping) or not isinstance(rules.get("rules"), list):
        return Summary(enabled, 0, [], _switched("unreadable rules", enabled), None)
    items: list[Any] = rules["rules"]
    kinds = [str(item.get("type")) if isinstance(item, Mapping) else "?" for item in items]
    phrases = [_cut(_rule(item)) for item in items]
    if not items:
        text = "no rules"
    elif len(items) == 1:
        text = phrases[0]
    else:
        text = f"{len(items)} rules: {', '.join(phrases)}"
    otherwise = _serve(rules.get("fallthrough"))
    if otherwise is not None:
        text = f"{text}; otherwise {otherwise}"
    return Summary(enabled, len(items), kinds, _switched(text, enabled), _rollout(items, rules))


def _switched(text: str, enabled: bool) -> str:
    return text if enabled else f"switched off ({text})"


def _rollout(items: Sequence[Any], document: Mapping[str, Any]) -> float | None:
    if len(items) != 1 or not isinstance(items[0], Mapping) or items[0].get("type") != "PERCENTAGE":
        return None
    rule = items[0]
    served = _serve(rule.get("serve"))
    if "rollout" in rule or served is None or served == _serve(document.get("fallthrough")):
        return None
    return _number(rule.get("value"))


def _rule(rule: object) -> str:
    if not isinstance(rule, Mapping):
        return "unreadable rule"
    kind = rule.get("type")
    if kind == "PERCENTAGE":
        phrase = f"{_pct(rule.get('value'))} rollout"
    elif kind == "USERS":
        users = rule.get("users")
        count = len(users) if isinstance(users, list) else 0
        phrase = f"{count} user{'' if count == 1 else 's'}"
    elif kind == "SEGMENT":
        segments = rule.get("segments")
        names = [str(s) for s in segments] if isinstance(segments, list) else []
        phrase = f"segment {names[0]}" if len(names) == 1 else f"segments {_list(names)}"
    elif kind == "CONDITIONS":
        phrase = _clause(rule.get("conditions"))
    else:
        phrase = f"{kind} rule"
    if "rollout" in rule:
        phrase = f"{phrase} ({_pct(rule.get('rollout'))} of them)"
    return phrase


def _clause(clause: object) -> str:
    if not isinstance(clause, Mapping):
        return "conditions"
    for joiner in ("all", "any"):
        parts = clause.get(joiner)
        if isinstance(parts, list):
            word = " and " if joiner == "all" else " or "
            return word.join(_clause(part) for part in parts) if parts else "always"
    if "not" in clause:
        return f"not ({_clause(clause['not'])})"
    if "attribute" in clause and "op" in clause:
        value = clause.get("value")
        shown = _list([str(v) for v in value]) if isinstance(value, list) else str(value)
        return f"{clause['attribute']} {clause['op']} {shown}".rstrip()
    return "conditions"


def _serve(serve: object) -> str | None:
    """`on`, `split blue/green`, or None when absent or unreadable."""
    if not isinstance(serve, Mapping):
        return None
    if "variant" in serve:
        return str(serve["variant"])
    split = serve.get("split")
    if isinstance(split, list):
        return "split " + "/".join(
            str(part.get("variant")) for part in split if isinstance(part, Mapping)
        )
    if isinstance(split, Mapping):
        return "split " + "/".join(str(name) for name in split)
    return None


def _list(names: Sequence[str]) -> str:
    shown = list(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown.append(f"+{len(names) - _MAX_LISTED}")
    return f"[{', '.join(shown)}]"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pct(value: object) -> str:
    number = _number(value)
    return "? %" if number is None else f"{number:g} %"


def _cut(phrase: str) -> str:
    return phrase if len(phrase) <= MAX_PHRASE else phrase[: MAX_PHRASE - 1] + "…"
