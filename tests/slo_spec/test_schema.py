"""The native JSON Schema accepts every native example and flags typos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from obskit.slo import _native
from obskit.slo._schema import native_schema

ROOT = Path(__file__).resolve().parents[2]
NATIVE_FILES = sorted(
    [*ROOT.joinpath("slo").glob("*.yaml"), *ROOT.joinpath("tests/golden/inputs").glob("native-*")]
)


def _validator() -> jsonschema.Draft202012Validator:
    schema = native_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_valid_draft_2020_12() -> None:
    """The schema itself is a valid draft 2020-12 schema and declares it."""
    schema = native_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", NATIVE_FILES, ids=lambda p: p.name)
def test_every_native_example_validates(path: Path) -> None:
    """slo/*.yaml and every native golden input validate against the schema."""
    assert len(NATIVE_FILES) >= 7
    errors = list(_validator().iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


def _checkout() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "slo" / "checkout.yaml").read_text())
    return data


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["slos"][0].__setitem__("objectve", 99), "slos/0"),
        (lambda d: d["slos"][0]["alerting"].__setitem__("runbok_url", "x"), "slos/0/alerting"),
        (lambda d: d.__setitem__("servise", "x"), ""),
        (lambda d: d["slos"][1]["sli"]["latency"].__setitem__("threshold", 0.3), "slos/1/sli"),
        (lambda d: d["slos"][0].__setitem__("objective", 100), "slos/0/objective"),
        (lambda d: d["labels"].__setitem__("obskit_slo", "x"), "labels"),
        (lambda d: d["slos"][0]["sli"]["availability"]["routes"].append('/a"'), "slos/0/sli"),
    ],
)
def test_typos_and_bad_values_do_not_validate(mutate: Any, where: str) -> None:
    """A typo'd key, an off-bucket threshold, objective 100, reserved label, quote in route."""
    data = _checkout()
    assert list(_validator().iter_errors(data)) == []
    mutate(data)
    errors = list(_validator().iter_errors(data))
    assert errors
    assert any("/".join(map(str, e.absolute_path)).startswith(where) for e in errors)


def test_schema_keys_match_the_loader() -> None:
    """The schema's properties are exactly the keys the native loader accepts."""
    schema = native_schema()
    assert set(schema["properties"]) == set(_native.SERVICE_KEYS)
    slo = schema["properties"]["slos"]["items"]
    assert set(slo["properties"]) == set(_native.SLO_KEYS)
    slis = slo["properties"]["sli"]["properties"]
    assert set(slis) == set(_native.KINDS)
    for kind, keys in _native.SLI_KEYS.items():
        assert set(slis[kind]["properties"]) == set(keys)
    alerting = slo["properties"]["alerting"]
    assert set(alerting["properties"]) == set(_native.ALERTING_KEYS)
    severity = alerting["properties"]["page"]["oneOf"][1]
    assert set(severity["properties"]) == set(_native.SEVERITY_KEYS)
