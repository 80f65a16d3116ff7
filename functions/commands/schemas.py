"""`python -m functions.commands.schemas`: publish the JSON Schemas of what ToggleMaster
exchanges outside HTTP: the evaluation events (in `events/`) and the configuration file
(in `functions/contracts/`, beside the OpenAPI descriptions).

A test compares them with the models, so a change to a model without `make schemas`
fails the build instead of leaving consumers with a stale schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from functions.core.events.schema import EvaluationEvent, EventPack, RowsPayload, SignedPack
from functions.core.models.analytics import BinaryDelivery
from functions.core.models.config_file import ConfigDocument

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED: dict[Path, type[BaseModel]] = {
    ROOT / "events" / "evaluation-event.schema.json": EvaluationEvent,
    ROOT / "events" / "event-pack.schema.json": EventPack,
    ROOT / "events" / "signed-pack.schema.json": SignedPack,
    ROOT / "events" / "rows-payload.schema.json": RowsPayload,
    ROOT / "events" / "delivery.schema.json": BinaryDelivery,
    ROOT / "functions" / "contracts" / "config-document.schema.json": ConfigDocument,
}


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), indent=2) + "\n"


def write_schemas() -> None:
    for path, model in PUBLISHED.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(model))


if __name__ == "__main__":
    write_schemas()
