"""`obskit slo explain` on the command line: the three formats, the JSON shape, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from obskit._cli import main
from obskit.slo import explain_services, load
from obskit.slo._explain import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "slo")


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a fresh process, output to a pipe."""
    return subprocess.run(
        [sys.executable, "-m", "obskit", "slo", "explain", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_text_table_defaults_to_slo_folder_and_has_no_colour() -> None:
    """Without PATH it reads slo/; in a pipe the table is plain text (no ANSI escapes): a title
    per SLO, the budget in minutes of total outage, one row per tier and ratio, 'never' rows."""
    result = _run("--error-ratio", "2%")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out
    assert "checkout/availability: 99.9% over 30d (slo/checkout.yaml:" in out
    assert "error budget 0.1% of requests = 43m12s of total outage per 30d" in out
    assert "search/query-errors: 99.5% over 28d" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("page-1h") and
               "14.4x" in line)  # fmt: skip
    # A total outage: true at minute 3, firing at 5 (`for: 2m`), 5 / 43.2 of the budget spent,
    # resolved 5 minutes after, two minutes of errors the shortest that pages (derived in
    # test_arithmetic.py).
    assert row.split()[-5:] == ["100%", "5m", "11.6%", "5m", "2m"], row
    assert "never: below threshold" in out
    assert "Assumptions:" in out


def test_json_shape_matches_the_model() -> None:
    """JSON carries schema_version, the timing, the ratios (total outage first) and per SLO and
    tier every documented field, with the numbers of explain_services()."""
    result = _run(SPECS, "--format", "json", "--error-ratio", "0.02", "--error-ratio", "0.005")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["timing"] == {"evaluation_interval_seconds": 60, "scrape_interval_seconds": 60,
                             "prometheus_major": 2}  # fmt: skip
    assert doc["error_ratios"] == [1.0, 0.02, 0.005]
    expected = explain_services(load([SPECS]), [0.02, 0.005])
    assert [s["id"] for s in doc["slos"]] == [e.slo.id for e in expected]
    for slo_doc, e in zip(doc["slos"], expected, strict=True):
        assert slo_doc["budget_outage_seconds"] == e.budget_outage_seconds
        assert slo_doc["error_budget_ratio"] == e.slo.error_budget
        assert slo_doc["low_traffic_guard"] == e.guarded
        assert [t["name"] for t in slo_doc["tiers"]] == [t.tier.name for t in e.tiers]
        for tier_doc, tier in zip(slo_doc["tiers"], e.tiers, strict=True):
            assert set(tier_doc) == {
                "name", "severity", "long_window", "short_window", "burn_rate",
                "threshold_error_ratio", "budget_spent_in_long_window", "budget_lasts_seconds",
                "for_seconds", "min_events", "min_requests_per_second", "outcomes",
            }  # fmt: skip
            assert tier_doc["threshold_error_ratio"] == tier.threshold_ratio
            for out_doc, outcome in zip(tier_doc["outcomes"], tier.outcomes, strict=True):
                assert out_doc["fires"] == (outcome.never is None)
                assert out_doc["never"] == outcome.never
                assert out_doc["fires_after_seconds"] == outcome.fires_after
                assert out_doc["resolves_after_seconds"] == outcome.resolves_after
                assert out_doc["budget_spent_at_fire"] == outcome.budget_spent_at_fire
                assert out_doc["shortest_incident_seconds"] == outcome.shortest_incident


def test_max_rules_per_group_gives_the_cut_groups_figures() -> None:
    """`--max-rules-per-group 5` (alerts in a later part than the windows they read) prints the
    figures of explain_services(max_rules=5), which fire later than those of the uncut group;
    a bad limit exits 2 as `build` does."""
    result = _run(SPECS, "--format", "json", "--max-rules-per-group", "5")
    assert result.returncode == 0, result.stderr
    cut = explain_services(load([SPECS]), max_rules=5)
    whole = explain_services(load([SPECS]))
    doc = json.loads(result.stdout)
    fires = [
        o["fires_after_seconds"] for s in doc["slos"] for t in s["tiers"] for o in t["outcomes"]
    ]
    assert fires == [o.fires_after for e in cut for t in e.tiers for o in t.outcomes]
    later = [
        (a.fires_after or 0) > (b.fires_after or 0)
        for x, y in zip(cut, whole, strict=True)
        for t, u in zip(x.tiers, y.tiers, strict=True)
        for a, b in zip(t.outcomes, u.outcomes, strict=True)
    ]
    assert any(later)
    assert _run(SPECS, "--max-rules-per-group", "-1").returncode == 2


def test_markdown_has_one_table_per_slo() -> None:
    """Markdown: a heading per SLO and a pipe table whose rows all have the header's columns."""
    result = _run(SPECS, "--format", "markdown", "--error-ratio", "0.02")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("### ") for line in lines) == 3
    tables = [line for line in lines if line.startswith("|")]
    header = tables[0]
    assert header.startswith("| tier | severity | windows |")
    assert all(line.count("|") == header.count("|") for line in tables)
    assert "| page-1h | page | 1h/5m | 14.4x | 1.44% | 2m |" in result.stdout


def test_low_traffic_option_marks_guarded_tiers_never() -> None:
    """--requests-per-second below a tier's guard rate prints 'never: low-traffic guard'."""
    result = _run(SPECS, "--requests-per-second", "0.02")
    assert result.returncode == 0, result.stderr
    assert "never: low-traffic guard" in result.stdout
    assert "assuming a steady 0.02 req/s" in result.stdout


def test_bad_spec_is_reported_like_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken spec gives the compiler's `file:line: field: message` on stderr, exit 2, and
    nothing on stdout."""
    spec = tmp_path / "bad.yaml"
    spec.write_text("service: x\nslos:\n  - name: a\n    objective: 100\n    sli:\n"
                    "      availability: {}\n")  # fmt: skip
    code = main(["slo", "explain", str(spec)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert f"{spec}:4: slos[0].objective:" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-ratio", "0"], "must be in (0, 1]"),
        (["--error-ratio", "150%"], "must be in (0, 1]"),
        (["--error-ratio", "lots"], "not a ratio or a percentage"),
        (["--evaluation-interval", "1 minute"], "not a Prometheus duration"),
        (["--scrape-interval", "500ms"], "whole number of seconds"),
        (["--requests-per-second", "-1"], "must be a positive number"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    """Bad option values exit 2 naming the option and the problem, with nothing on stdout."""
    result = _run(SPECS, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert args[0] in result.stderr


def test_evaluation_interval_must_be_a_multiple_of_the_scrape_interval() -> None:
    """The model needs every evaluation on a scrape: 1m evaluations over 45s scrapes exit 2."""
    result = _run(SPECS, "--scrape-interval", "45s")
    assert result.returncode == 2
    assert "multiple of the scrape interval" in result.stderr
    assert result.stdout == ""


def test_missing_path_exits_2() -> None:
    """A path that does not exist is an input error (exit 2), not a traceback."""
    result = _run("no/such/folder")
    assert result.returncode == 2
    assert "no/such/folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_slo_without_tiers_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An SLO with `page: false` and `ticket: false` still gets its budget, and a line saying it
    has no alert tiers (text and Markdown), and an empty tier list in JSON."""
    spec = tmp_path / "quiet.yaml"
    spec.write_text("service: quiet\nslos:\n  - name: a\n    objective: 99.5\n    period: 4w\n"
                    "    sli:\n      availability: {}\n    alerting:\n      page: false\n"
                    "      ticket: false\n")  # fmt: skip
    assert main(["slo", "explain", str(spec)]) == 0
    text = capsys.readouterr().out
    assert "quiet/a: 99.5% over 28d" in text
    assert "3h21m36s of total outage per 28d" in text
    assert "no alert tiers" in text
    assert main(["slo", "explain", str(spec), "--format", "markdown"]) == 0
    assert "No alert tiers" in capsys.readouterr().out
    assert main(["slo", "explain", str(spec), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["slos"][0]["tiers"] == []
