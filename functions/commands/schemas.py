"""`python -m functions.commands.schemas`: publish the JSON Schemas in `events/`.

A test compares them with the models, so a change to a model without `make schemas`
fails the build instead of leaving consumers with a stale schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from functions.core.events.schema import EvaluationEvent, EventPack
from functions.core.models.config_file import ConfigDocument

PUBLISHED: dict[str, type[BaseModel]] = {
    "evaluation-event": EvaluationEvent,
    "event-pack": EventPack,
    "config-document": ConfigDocument,
}


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), indent=2) + "\n"


def write_schemas(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in PUBLISHED.items():
        (folder / f"{name}.schema.json").write_text(render(model))


if __name__ == "__main__":
    write_schemas(Path(__file__).resolve().parents[2] / "events")
