"""Every kind of bad input is reported as ``file:line: field: message``, all at once."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from obskit.slo import SpecErrors, load

GOOD_SLO = """\
  - name: ok
    objective: 99
    sli:
      availability: {}
"""


def _errors(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """Write ``files`` under tmp_path, load the folder, return the messages (relative paths)."""
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load([tmp_path])
    return [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]


def _one(tmp_path: Path, text: str) -> list[str]:
    return _errors(tmp_path, {"svc.yaml": text})


def test_objective_out_of_range_names_line_and_field(tmp_path: Path) -> None:
    """The issue's own example: an objective of 100 in the second SLO."""
    text = (
        "service: checkout\nslos:\n" + GOOD_SLO + GOOD_SLO.replace("ok", "two").replace("99", "100")
    )
    assert _one(tmp_path, text) == [
        "svc.yaml:8: slos[1].objective: must be below 100: a 100 % objective leaves no error budget"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be above 0 (it is a percentage, e.g. 99.9)"),
        ("-5", "must be above 0 (it is a percentage, e.g. 99.9)"),
        ("true", "must be a number, not a boolean"),
        ('"99.9"', "must be a number, not a string"),
    ],
)
def test_bad_objectives(tmp_path: Path, value: str, message: str) -> None:
    """Objectives outside (0, 100), booleans and quoted numbers are rejected."""
    text = GOOD_SLO.replace("99", value)
    assert _one(tmp_path, "service: a\nslos:\n" + text) == [
        f"svc.yaml:4: slos[0].objective: {message}"
    ]


def test_unknown_keys_suggest_the_closest_valid_key(tmp_path: Path) -> None:
    """Typos at every level are errors naming the closest valid key."""
    text = """\
    servise: a
    slos:
      - name: x
        objectiv: 99
        objective: 99
        sli:
          availability:
            route: ["/a"]
        alerting:
          runbok_url: https://x
          zzz: 1
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:1: servise: unknown key; did you mean 'service'?",
        "svc.yaml:1: service: is required",
        "svc.yaml:4: slos[0].objectiv: unknown key; did you mean 'objective'?",
        "svc.yaml:8: slos[0].sli.availability.route: unknown key; did you mean 'routes'?",
        "svc.yaml:10: slos[0].alerting.runbok_url: unknown key; did you mean 'runbook_url'?",
        "svc.yaml:11: slos[0].alerting.zzz: unknown key; valid keys: annotations, labels, "
        "min_events, name, page, runbook_url, ticket",
    ]


def test_duplicate_slo_names_and_duplicate_keys(tmp_path: Path) -> None:
    """Two SLOs with one name, and one key twice in a mapping, are both errors."""
    text = "service: a\nslos:\n" + GOOD_SLO + GOOD_SLO + "    period: 7d\n    period: 28d\n"
    assert _one(tmp_path, text) == [
        "svc.yaml:7: slos[1].name: duplicate SLO name 'ok' (first defined at line 3)",
        "svc.yaml:12: slos[1].period: duplicate key in the same mapping",
    ]


def test_same_service_in_two_files_names_both(tmp_path: Path) -> None:
    """A service defined in two files is an error naming both files."""
    text = "service: shop\nslos:\n" + GOOD_SLO
    assert _errors(tmp_path, {"a.yaml": text, "sub/b.yaml": text}) == [
        "sub/b.yaml:1: service: 'shop' is already defined in a.yaml:1: "
        "keep each service in one file"
    ]


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("36h", "36h is not a whole number of days (e.g. 7d, 28d, 30d)"),
        ("0d", "0d is not a whole number of days (e.g. 7d, 28d, 30d)"),
        ("30", "must be a duration in days such as 30d or 4w, not 30"),
        ("1.5d", "must be a duration in days such as 30d or 4w, not '1.5d'"),
    ],
)
def test_bad_periods(tmp_path: Path, period: str, message: str) -> None:
    """Periods must be a whole number of days."""
    text = "service: a\nslos:\n" + GOOD_SLO + f"    period: {period}\n"
    assert _one(tmp_path, text) == [f"svc.yaml:7: slos[0].period: {message}"]


def test_periods_in_weeks_and_whole_hours_are_days(tmp_path: Path) -> None:
    """4w is 28 days and 48h is 2 days: accepted."""
    (tmp_path / "a.yaml").write_text(
        "service: a\nslos:\n"
        + GOOD_SLO
        + "    period: 4w\n"
        + GOOD_SLO.replace("ok", "two")
        + "    period: 48h\n"
    )
    (service,) = load([tmp_path])
    assert [slo.period_days for slo in service.slos] == [28, 2]


def test_latency_threshold_off_the_buckets_lists_valid_ones(tmp_path: Path) -> None:
    """A latency threshold that is not a bucket boundary lists every valid boundary."""
    text = """\
    service: a
    slos:
      - name: slow
        objective: 99
        sli:
          latency:
            threshold: 0.3
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:7: slos[0].sli.latency.threshold: 0.3 s is not a bucket boundary of "
        "http_server_request_duration_seconds; valid thresholds (seconds): 0.005, 0.01, 0.025, "
        "0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10"
    ]


def test_latency_threshold_follows_the_bucket_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OBSKIT_HTTP_BUCKETS changes the valid thresholds, as it changes the runtime's buckets."""
    monkeypatch.setenv("OBSKIT_HTTP_BUCKETS", "0.1,0.3,1")
    (tmp_path / "a.yaml").write_text(
        "service: a\nslos:\n  - name: s\n    objective: 99\n    sli:\n"
        "      latency: {threshold: 0.3}\n"
    )
    (service,) = load([tmp_path])
    assert 'le="0.3"' in (service.slos[0].sli.error_query or "")


def test_promql_that_does_not_parse_and_missing_window(tmp_path: Path) -> None:
    """Raw queries must parse and must contain the window placeholder."""
    text = """\
    service: a
    slos:
      - name: r
        objective: 99
        sli:
          ratio:
            errors: sum(rate(x[5m]))
            total: sum(rate(x[{{.window}}])
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:7: slos[0].sli.ratio.errors: query must contain the window placeholder "
        "{{.window}} (e.g. rate(x[{{.window}}])), so obskit can evaluate it over every alert "
        "window",
        "svc.yaml:8: slos[0].sli.ratio.total: PromQL does not parse: unclosed left parenthesis",
    ]


def test_range_vector_query_is_rejected(tmp_path: Path) -> None:
    """A query returning a range vector cannot be a rule expression."""
    text = """\
    service: a
    slos:
      - name: r
        objective: 99
        sli:
          ratio:
            errors: x[{{.window}}]
            total: sum(rate(x[{{.window}}]))
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:7: slos[0].sli.ratio.errors: must return an instant vector, not a range "
        "vector or string"
    ]


@pytest.mark.parametrize(
    ("yaml_value", "shown"),
    [
        ("'a\"} or vector(1) or x{b=\"'", "'\"'"),
        ("'a\\\\'", "'\\\\'"),
        ("'a`b'", "'`'"),
        ('"a\\nb"', "control character '\\n'"),
    ],
)
def test_injection_through_selector_route_operation_and_labels(
    tmp_path: Path, yaml_value: str, shown: str
) -> None:
    """Values that could close a PromQL string are rejected wherever they are spliced in."""
    text = f"""\
    service: a
    labels:
      team: {yaml_value}
    selector:
      job: {yaml_value}
    slos:
      - name: x
        objective: 99
        sli:
          availability:
            routes: [{yaml_value}]
      - name: y
        objective: 99
        sli:
          operation:
            name: {yaml_value}
    """
    tail = f"must not contain {shown}: it could break out of a PromQL string"
    assert _one(tmp_path, text) == [
        f"svc.yaml:3: labels.team: {tail}",
        f"svc.yaml:5: selector.job: {tail}",
        f"svc.yaml:11: slos[0].sli.availability.routes[0]: {tail}",
        f"svc.yaml:16: slos[1].sli.operation.name: {tail}",
    ]


def test_injection_through_service_name(tmp_path: Path) -> None:
    """A service name with quotes or braces is not a valid name."""
    text = 'service: a"}\nslos:\n' + GOOD_SLO
    (message,) = _one(tmp_path, text)
    assert message.startswith("svc.yaml:1: service: invalid name 'a\"}'")


def test_label_names_are_validated(tmp_path: Path) -> None:
    """Invalid, __-prefixed and obskit_* label names are rejected."""
    text = """\
    service: a
    labels:
      9bad: x
      __name__: x
      obskit_slo: x
    slos:
      - name: x
        objective: 99
        sli:
          availability: {}
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:3: labels.9bad: invalid label name '9bad': must match [a-zA-Z_][a-zA-Z0-9_]*",
        "svc.yaml:4: labels.__name__: invalid label name '__name__': names starting with __ "
        "are reserved by Prometheus",
        "svc.yaml:5: labels.obskit_slo: label name 'obskit_slo' is reserved: obskit sets the "
        "obskit_* labels",
    ]


def test_sli_kind_and_status_and_method_errors(tmp_path: Path) -> None:
    """Two SLI kinds at once, unknown status classes and methods are located exactly."""
    text = """\
    service: a
    slos:
      - name: x
        objective: 99
        sli:
          availability: {}
          operation: {name: y}
      - name: z
        objective: 99
        sli:
          availability:
            errors: ["6xx"]
            methods: [FETCH]
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:5: slos[0].sli: must have exactly one of: availability, latency, operation, "
        "ratio",
        "svc.yaml:12: slos[1].sli.availability.errors[0]: '6xx' is not a status code "
        "(e.g. 503) or class (e.g. 5xx)",
        "svc.yaml:13: slos[1].sli.availability.methods[0]: unknown HTTP method 'FETCH': use one "
        "of CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE, _OTHER",
    ]


def test_file_level_errors(tmp_path: Path) -> None:
    """Empty files, YAML syntax errors, non-UTF-8 files and non-mappings, each reported."""
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    assert _errors(
        tmp_path,
        {
            "empty.yaml": "# just a comment\n",
            "list.yaml": "- a\n- b\n",
            "syntax.yaml": "service: a\nslos: [\n",
            "z.yml": "service: b\nslos:\n  - name: x\n   objective: 9\n",
        },
    ) == [
        "bin.yaml: cannot read: not UTF-8 text (invalid start byte)",
        "empty.yaml: file is empty: no YAML document in it",
        "list.yaml:1: a spec document must be a mapping (service: …, slos: …)",
        "syntax.yaml:3: YAML syntax error: while parsing a flow node, did not find expected "
        "node content",
        "z.yml:4: YAML syntax error: while parsing a block collection, did not find expected "
        "'-' indicator",
    ]


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    """A path that does not exist, an empty folder and an unreadable file are errors."""
    (tmp_path / "empty").mkdir()
    locked = tmp_path / "locked.yaml"
    locked.write_text("service: a\n")
    locked.chmod(0)
    try:
        with pytest.raises(SpecErrors) as caught:
            load([tmp_path / "nope.yaml", tmp_path / "empty", locked])
    finally:
        locked.chmod(0o644)
    messages = [str(e).replace(f"{tmp_path}{os.sep}", "") for e in caught.value.errors]
    assert messages[:2] == [
        "nope.yaml: no such file or folder",
        "empty: no *.yaml or *.yml file in folder",
    ]
    if os.geteuid() != 0:  # root reads any file; the check is meaningful for everyone else
        assert messages[2] == "locked.yaml: cannot read: Permission denied"


def test_every_error_of_every_file_is_reported_together(tmp_path: Path) -> None:
    """Errors are collected across files (ordered by file, then line), not first-only."""
    bad = "service: NAME\nslos:\n" + GOOD_SLO.replace("99", "101")
    messages = _errors(
        tmp_path, {"b.yaml": bad.replace("NAME", "b"), "a.yaml": bad.replace("NAME", "a")}
    )
    assert [m.split(":")[0] for m in messages] == ["a.yaml", "b.yaml"]


def test_alerting_option_errors(tmp_path: Path) -> None:
    """Bad `for:` durations, negative min_events and a non-boolean page are located."""
    text = """\
    service: a
    slos:
      - name: x
        objective: 99
        sli:
          availability: {}
        alerting:
          min_events: -1
          page:
            for: soon
          ticket: "no"
    """
    assert _one(tmp_path, text) == [
        "svc.yaml:8: slos[0].alerting.min_events: must be 0 or more",
        "svc.yaml:10: slos[0].alerting.page.for: must be a Prometheus duration such as 2m or 1h, "
        "not 'soon'",
        "svc.yaml:11: slos[0].alerting.ticket: must be a mapping, not a string",
    ]


def test_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    """Nested YAML aliases ("billion laughs") stop with an error instead of eating memory."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "\n".join(levels) + "\n"
    assert _one(tmp_path, text) == [
        "svc.yaml: document too large: more than 200000 fields once aliases are expanded"
    ]


def test_anchors_and_merge_keys_work_like_safe_load(tmp_path: Path) -> None:
    """Shared alerting blocks via anchors and `<<:` merge keys load as expected."""
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent(
            """\
            service: a
            slos:
              - name: x
                objective: 99
                sli: {availability: {}}
                alerting: &alerting
                  min_events: 5
                  runbook_url: https://r
              - name: y
                objective: 99
                sli: {availability: {}}
                alerting:
                  <<: *alerting
                  min_events: 7
            """
        )
    )
    (service,) = load([tmp_path])
    assert [s.alerting.min_events for s in service.slos] == [5, 7]
    assert [s.alerting.runbook_url for s in service.slos] == ["https://r", "https://r"]


def test_selector_may_not_use_the_slis_own_labels(tmp_path: Path) -> None:
    """A selector on http_route (or another SLI label) would fight the SLI's own matchers."""
    text = "service: a\nselector:\n  http_route: /x\n  app: ''\nslos:\n" + GOOD_SLO
    assert _one(tmp_path, text) == [
        "svc.yaml:3: selector.http_route: 'http_route' is set by the SLI itself; select the "
        "service by its own labels",
        "svc.yaml:4: selector.app: must not be empty",
    ]


def test_zero_for_means_no_for(tmp_path: Path) -> None:
    """`for: 0` disables the page `for:`; the ticket keeps its default."""
    (tmp_path / "a.yaml").write_text(
        "service: a\nslos:\n" + GOOD_SLO + "    alerting:\n      page:\n        for: 0\n"
    )
    (service,) = load([tmp_path])
    assert (service.slos[0].alerting.page_for, service.slos[0].alerting.ticket_for) == ("", "15m")
