"""The compiler's public API (``obskit.slo.load`` → ``build`` → ``write`` / ``drift``) does what
``obskit slo build`` does, all or nothing, without printing or exiting."""

from __future__ import annotations

from pathlib import Path

import pytest

import obskit.slo
from obskit._cli import main
from obskit.slo import DashboardOptions, SpecErrors, build, drift, load, rule_groups, write

ROOT = Path(__file__).resolve().parents[2]
SPEC = """\
service: shop
labels: {team: payments}
slos:
  - name: availability
    objective: 99.9
    sli:
      availability: {routes: ["/cart/{id}"]}
"""


def test_public_names_are_importable() -> None:
    """Every name in ``obskit.slo.__all__`` resolves, once."""
    assert len(set(obskit.slo.__all__)) == len(obskit.slo.__all__)
    for name in obskit.slo.__all__:
        assert getattr(obskit.slo, name) is not None


def test_build_equals_what_the_cli_writes(tmp_path: Path) -> None:
    """The repository's own specs built through the API give byte for byte the files
    ``obskit slo build`` writes."""
    out = tmp_path / "cli"
    assert main(["slo", "build", str(ROOT / "slo"), "--out", str(out)]) == 0
    files = build(load(ROOT / "slo"))
    assert files
    for rel, text in files.items():
        assert (out / rel).read_text(encoding="utf-8") == text, rel
    assert drift(files, out) == []


def test_write_then_drift_reports_an_edited_file(tmp_path: Path) -> None:
    """``write`` writes the build; a hand edit shows up in ``drift`` as ``differs`` and a
    second ``write`` repairs it, rewriting only that file."""
    spec = tmp_path / "slo" / "shop.yaml"
    spec.parent.mkdir()
    spec.write_text(SPEC, encoding="utf-8")
    files = build(load(spec), dashboards=DashboardOptions(enabled=False))
    assert sorted(files) == ["rules/shop.yaml"]
    out = tmp_path / "out"
    assert write(files, out) == ["rules/shop.yaml"]
    assert drift(files, out) == []
    rule_file = out / "rules" / "shop.yaml"
    rule_file.write_text(rule_file.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert drift(files, out) == ["rules/shop.yaml: differs"]
    assert write(files, out) == ["rules/shop.yaml"]
    assert drift(files, out) == []


def test_bad_spec_raises_every_problem_located(tmp_path: Path) -> None:
    """A broken file raises ``SpecErrors`` naming file, line and field; nothing is returned."""
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("99.9", "120"), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([spec])
    (error,) = caught.value.errors
    assert (Path(error.path).name, error.line, error.field) == ("bad.yaml", 5, "slos[0].objective")


def test_rule_groups_honour_the_group_limit(tmp_path: Path) -> None:
    """``rule_groups`` cuts at ``max_rules_per_group`` (the CLI's option), 20 by default."""
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (service,) = load(spec)
    default = rule_groups(service)
    assert all(len(group.rules) <= 20 for group in default)
    cut = rule_groups(service, max_rules_per_group=5)
    assert all(len(group.rules) <= 5 for group in cut)
    assert [r for g in cut for r in g.rules] == [r for g in default for r in g.rules]


def test_alert_shape_sloth_adds_sloth_labels(tmp_path: Path) -> None:
    """``load(..., alert_shape="sloth")`` gives a native spec Sloth's alerts, as
    ``--alert-shape sloth`` does."""
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (service,) = load(spec, alert_shape="sloth")
    alerts = [r for g in rule_groups(service) for r in g.rules if r.alert]
    assert alerts
    assert all("sloth_severity" in dict(r.labels) for r in alerts)
