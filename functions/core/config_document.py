"""Configuration as a file: the document `GET /export` writes and `POST /import` reads.

Version 1::

    version: 1
    environments:                 # the environments this document speaks for
      - key: staging
        name: Staging
    flags:
      - name: checkout_v2
        description: New checkout
        environments:
          staging:
            enabled: true
            rule:                 # absent or null: no targeting rule
              enabled: true
              rules: {type: PERCENTAGE, value: 30}

The document is the whole truth for the environments it lists: importing it makes
them hold exactly its flags, states and rules. A flag it leaves out is reset there
(disabled, no rule), and deleted outright when the document lists every environment
the database has. `make schemas` publishes the JSON Schema in `events/`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from functions.core.models import Description, EnvironmentKey, EnvironmentName, FlagName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RuleSpec(_Strict):
    enabled: StrictBool = True
    rules: dict[str, Any] | list[Any] = Field(description="a targeting rule document")


class StateSpec(_Strict):
    enabled: StrictBool = False
    rule: RuleSpec | None = None


class FlagSpec(_Strict):
    name: FlagName
    description: Description | None = None
    environments: dict[EnvironmentKey, StateSpec] = Field(default_factory=dict)


class EnvironmentSpec(_Strict):
    key: EnvironmentKey
    name: EnvironmentName | None = None


class ConfigDocument(_Strict):
    version: Literal[1] = 1
    environments: list[EnvironmentSpec] = Field(min_length=1)
    flags: list[FlagSpec] = Field(default_factory=list)
