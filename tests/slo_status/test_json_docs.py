"""docs/slo-cli.md documents every field of the status JSON, and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from obskit.slo import load
from obskit.slo._status import Report, SLOStatus
from obskit.slo._status_render import render_json

from .conftest import SHOP_SPEC

DOC = Path(__file__).resolve().parents[2] / "docs" / "slo-cli.md"


def _documented_fields() -> set[str]:
    text = DOC.read_text()
    table = text[text.index("| field | type | meaning |") :].split("\n\n")[0]
    fields: set[str] = set()
    for row in table.splitlines()[2:]:
        fields.update(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    return fields


def test_every_slo_field_is_documented(tmp_path: Path) -> None:
    """The keys of one SLO object equal the field names in the docs' table; the top-level keys
    all appear in the documented example."""
    (tmp_path / "shop.yaml").write_text(SHOP_SPEC)
    (service,) = load([tmp_path])
    body = json.loads(render_json(Report(0.0, "http://x", [SLOStatus(service.slos[0])])))
    assert set(body["slos"][0]) == _documented_fields()
    text = DOC.read_text()
    for key in body:
        assert f'"{key}":' in text, key
    assert body["schema_version"] == 1
    assert body["slos"][0]["sli"] is None  # no figure: null, not NaN
