"""The error-budget policy: parsed with line-tracked errors, merged service → SLO, in the JSON
Schema, and evaluated into the gate's block and warn rules."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from obskit.slo import SpecErrors, load
from obskit.slo._model import Policy
from obskit.slo._policy import POLICY_KEYS, evaluate_policy
from obskit.slo._schema import native_schema

SPEC = """\
service: shop
policy:
  freeze_below: 0.1
  freeze_while_firing: [page]
slos:
  - name: a
    objective: 99
    sli: {availability: {}}
  - name: b
    objective: 99
    sli: {availability: {}}
    policy:
      freeze_below: 0
      warn_below: 0.5
      freeze_while_firing: [ticket-3d]
  - name: c
    objective: 99
    sli: {availability: {}}
"""


def _load(tmp_path: Path, text: str) -> list[object]:
    (tmp_path / "shop.yaml").write_text(textwrap.dedent(text))
    return list(load([tmp_path]))


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "shop.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def test_service_policy_applies_to_every_slo_and_slo_keys_replace_it(tmp_path: Path) -> None:
    """a and c inherit the service policy; b replaces all three keys with its own; the policy
    source is the line of the policy in force (service or SLO)."""
    (service,) = load([_write(tmp_path, SPEC)])
    a, b, c = service.slos
    assert a.policy is not None
    assert c.policy == a.policy
    assert (a.policy.freeze_below, a.policy.warn_below, a.policy.freeze_while_firing) == (
        0.1, None, ("page",),
    )  # fmt: skip
    assert a.policy.source is not None
    assert a.policy.source.line == 2
    assert b.policy is not None
    assert (b.policy.freeze_below, b.policy.warn_below, b.policy.freeze_while_firing) == (
        0.0, 0.5, ("ticket-3d",),
    )  # fmt: skip
    assert b.policy.source is not None
    assert b.policy.source.line == 12


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "shop.yaml").write_text(text)
    return tmp_path


def test_no_policy_means_none(tmp_path: Path) -> None:
    """Without any `policy:` an SLO has none (the gate skips it)."""
    text = "service: s\nslos:\n  - name: a\n    objective: 99\n    sli: {availability: {}}\n"
    (service,) = load([_write(tmp_path, text)])
    assert service.slos[0].policy is None


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{freeze_below: 10}", "slos[0].policy.freeze_below: 10 is not a share of the error "
         "budget: use 0 … 1 (0.1 = 10 % left; 0 = once the budget is overspent)"),
        ("{warn_below: -0.1}", "slos[0].policy.warn_below: -0.1 is not a share"),
        ("{freeze_while_firing: [pager]}", "slos[0].policy.freeze_while_firing[0]: unknown "
         "severity or tier 'pager': use one of page, ticket, page-1h, page-6h, ticket-1d, "
         "ticket-3d"),
        ("{freez_below: 0.1}", "slos[0].policy.freez_below: unknown key"),
        ("{}", "slos[0].policy: is empty: set freeze_below, warn_below or freeze_while_firing"),
        ("{freeze_below: 0.5, warn_below: 0.2}", "slos[0].policy.warn_below: warn_below (0.2) "
         "is below freeze_below (0.5)"),
        ("{freeze_below: '0.1'}", "slos[0].policy.freeze_below: must be a number"),
    ],
)  # fmt: skip
def test_bad_policies_name_file_line_and_field(tmp_path: Path, policy: str, message: str) -> None:
    """Each mistake is one `file:line: field: message` error on the policy's line."""
    text = (
        "service: s\nslos:\n  - name: a\n    objective: 99\n    sli: {availability: {}}\n"
        f"    policy: {policy}\n"
    )
    errors = _errors(tmp_path, text)
    assert len(errors) == 1, errors
    assert errors[0].startswith("shop.yaml:6: " + message)


def test_a_service_policy_error_is_reported_once(tmp_path: Path) -> None:
    """A bad service-level policy is one error on its line, not one per SLO."""
    text = SPEC.replace("freeze_below: 0.1", "freeze_below: 2")
    errors = _errors(tmp_path, text)
    assert [e.split(":", 2)[:2] for e in errors] == [["shop.yaml", "3"]]


def test_schema_accepts_the_policy_and_rejects_typos() -> None:
    """The JSON Schema knows the policy keys (the loader's own list) at both levels."""
    schema = native_schema()
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load(SPEC)
    assert list(validator.iter_errors(data)) == []
    assert set(schema["properties"]["policy"]["properties"]) == set(POLICY_KEYS)
    data["slos"][1]["policy"]["freeze_blow"] = 0.1
    assert list(validator.iter_errors(data))
    data = yaml.safe_load(SPEC)
    data["policy"]["freeze_while_firing"] = ["pager"]
    assert list(validator.iter_errors(data))


def test_evaluate_blocks_and_warns() -> None:
    """Below freeze_below blocks; a firing tier of a listed severity or name blocks; below
    warn_below (and not already frozen by the budget) warns; nothing else."""
    policy = Policy(freeze_below=0.1, warn_below=0.3, freeze_while_firing=("page", "ticket-3d"))
    assert evaluate_policy("s/a", policy, 0.5, {}) == []
    warn = evaluate_policy("s/a", policy, 0.2, {"ticket-1d": "ticket"})
    assert [(v.rule, v.block) for v in warn] == [("warn_below", False)]
    assert warn[0].message == "error budget remaining 20% is below warn_below 30%"
    block = evaluate_policy("s/a", policy, 0.05, {"page-1h": "page", "ticket-3d": "ticket"})
    assert [(v.rule, v.block) for v in block] == [
        ("freeze_below", True), ("freeze_while_firing", True), ("freeze_while_firing", True),
    ]  # fmt: skip
    assert (
        block[1].message
        == "alert tier page-1h (page) is firing (freeze_while_firing: page, ticket-3d)"
    )
    overspent = evaluate_policy("s/a", Policy(freeze_below=0.0), -0.2, {})
    assert [v.message for v in overspent] == [
        "error budget remaining -20% is below freeze_below 0%"
    ]
