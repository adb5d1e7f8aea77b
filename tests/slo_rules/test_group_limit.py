"""Rule-group size: Mimir's default limit of 20 rules per group, `--max-rules-per-group`, and
the order of rules across the parts of a cut group."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from obskit.slo import RuleGroup, rule_groups
from obskit.slo._rules import DEFAULT_MAX_RULES_PER_GROUP, PART_SEPARATOR, split_group

from ._models import events_sli, http_availability_sli, raw_sli, service, slo

REPO = Path(__file__).resolve().parents[2]
_RULE_NAME_RE = re.compile(r"obskit_slo:[a-z_]+:[a-z_0-9]+")
#: Mimir's default `-ruler.max-rules-per-rule-group` (pkg/util/validation/limits.go).
MIMIR_DEFAULT_LIMIT = 20


def _rule_files() -> list[Path]:
    files = sorted((REPO / "tests" / "golden" / "expected").glob("*/rules/*.yaml"))
    files += sorted((REPO / "rules").glob("*.yaml"))
    return files


def _groups(path: Path) -> list[dict[str, object]]:
    doc = yaml.safe_load(path.read_text())
    groups: list[dict[str, object]] = doc["groups"] if "groups" in doc else doc["spec"]["groups"]
    return groups


def test_default_limit_is_mimirs() -> None:
    """The default cut is Mimir's default `ruler.max-rules-per-rule-group`, 20."""
    assert DEFAULT_MAX_RULES_PER_GROUP == MIMIR_DEFAULT_LIMIT


@pytest.mark.parametrize("path", _rule_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_committed_group_fits_mimirs_default_limit(path: Path) -> None:
    """Every group of every golden file and of the committed `rules/` holds at most 20 rules,
    so a default-limit Mimir ruler accepts it; every native events SLO is still one group."""
    groups = _groups(path)
    assert groups
    for group in groups:
        rules = group["rules"]
        assert isinstance(rules, list)
        assert 0 < len(rules) <= MIMIR_DEFAULT_LIMIT, (group["name"], len(rules))
        assert PART_SEPARATOR not in str(group["name"]), group["name"]


def _mixed() -> list[RuleGroup]:
    svc = service(
        "checkout",
        slo("checkout", "availability", http_availability_sli("checkout"), min_events=100),
        slo("checkout", "raw", raw_sli("checkout"), period_days=28),
        slo("checkout", "no-page", events_sli("checkout"), page=False),
    )
    return rule_groups(svc, max_rules_per_group=0)


@pytest.mark.parametrize("limit", range(1, 22))
def test_a_cut_group_keeps_order_and_reads_only_earlier_rules(limit: int) -> None:
    """Cut at any limit, an SLO's parts hold at most `limit` rules, concatenate back to the
    uncut group, have unique names (the first keeps the group's name), and every rule reads
    only recordings written above it — in its own part or in an earlier part of its SLO."""
    for whole in _mixed():
        parts = split_group(whole, limit)
        assert all(0 < len(p.rules) <= limit for p in parts)
        assert tuple(r for p in parts for r in p.rules) == whole.rules
        names = [p.name for p in parts]
        assert names[0] == whole.name
        assert names[1:] == [f"{whole.name}{PART_SEPARATOR}{i}" for i in range(2, len(parts) + 1)]
        seen: set[str] = set()
        for part in parts:
            for rule in part.rules:
                for name in _RULE_NAME_RE.findall(rule.expr):
                    assert name in seen, (part.name, rule.record or rule.alert, name)
                if rule.record:
                    seen.add(rule.record)


def test_events_slo_is_twenty_rules_with_alerts_after_the_sli() -> None:
    """An events SLO with four tiers is exactly 20 rules (one group under Mimir's default),
    and its alerts come right after the SLI recordings they read, before the dashboards'
    figures — so a cut keeps alerts as close as possible to their inputs."""
    whole = _mixed()[0]
    assert len(whole.rules) == 20
    kinds = ["alert" if r.alert else "record" for r in whole.rules]
    first_alert = kinds.index("alert")
    assert kinds[first_alert : first_alert + 4] == ["alert"] * 4
    assert all(r.record and "sli_" in r.record for r in whole.rules[:first_alert])


def test_zero_means_no_limit_and_negative_is_refused() -> None:
    """`max_rules=0` never cuts; a negative limit is a programming error."""
    whole = _mixed()[0]
    assert split_group(whole, 0) == [whole]
    tiny = RuleGroup(whole.name, whole.rules * 3)
    assert split_group(tiny, 0) == [tiny]
    assert [len(p.rules) for p in split_group(tiny, 20)] == [20, 20, 20]
    with pytest.raises(ValueError, match="max_rules"):
        split_group(whole, -1)


_SPEC = """\
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      availability: {}
  - name: latency
    objective: 99
    sli:
      latency: {threshold: 0.25}
"""


def _build(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "slo").mkdir(exist_ok=True)
    (tmp_path / "slo" / "shop.yaml").write_text(_SPEC)
    return subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "build", "slo", "--out", "out", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("fmt", ["prometheus", "prometheus-operator"])
def test_cli_limit_cuts_groups_and_promtool_accepts_them(
    tmp_path: Path, promtool: str, fmt: str
) -> None:
    """`--max-rules-per-group 6` writes no group over 6 rules, in both formats, with the same
    rules in the same order as the uncut build; `promtool check rules` accepts the file."""
    result = _build(tmp_path, "--max-rules-per-group", "6", "--format", fmt)
    assert result.returncode == 0, result.stderr
    cut = _groups(tmp_path / "out" / "rules" / "shop.yaml")
    assert len(cut) > 2
    assert all(len(g["rules"]) <= 6 for g in cut)  # type: ignore[arg-type]
    assert len({g["name"] for g in cut}) == len(cut)
    whole = _build(tmp_path, "--out", "whole", "--max-rules-per-group", "0", "--format", fmt)
    assert whole.returncode == 0, whole.stderr
    uncut = _groups(tmp_path / "whole" / "rules" / "shop.yaml")
    assert [len(g["rules"]) for g in uncut] == [20, 20]  # type: ignore[arg-type]
    flat = [r for g in cut for r in g["rules"]]  # type: ignore[attr-defined]
    assert flat == [r for g in uncut for r in g["rules"]]  # type: ignore[attr-defined]
    if fmt == "prometheus":
        check = subprocess.run(
            [promtool, "check", "rules", str(tmp_path / "out" / "rules" / "shop.yaml")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("value", ["-1", "ten", "2.5"])
def test_cli_refuses_a_bad_limit(tmp_path: Path, value: str) -> None:
    """A negative or non-integer `--max-rules-per-group` exits 2 naming the option; nothing is
    written."""
    result = _build(tmp_path, "--max-rules-per-group", value)
    assert result.returncode == 2
    assert "--max-rules-per-group" in result.stderr
    assert not (tmp_path / "out").exists()
