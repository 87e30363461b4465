"""Policy-file errors name the file, the line and the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeaudit.errors import ConfigError, EdgeauditError, InputError
from edgeaudit.policy.files import load_policies
from tests.policy.helpers import Evidence, edit, run


def line_of(path: Path, needle: str) -> int:
    """The line where ``needle`` (which must occur once, may span lines) starts."""
    text = path.read_text(encoding="utf-8")
    assert text.count(needle) == 1, (needle, text.count(needle))
    return text.count("\n", 0, text.index(needle)) + 1


def _fails(pol: Path, file: str, needle: str, problem: str) -> None:
    path = pol / file
    line = line_of(path, needle)
    with pytest.raises(InputError) as err:
        load_policies(pol)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert re.search(problem, msg), msg


CASES = [
    # (file, old, new, line marker in the broken file, problem)
    (
        "rules.yaml",
        "check: jit.grant_duration",
        "check: jit.grant_duraton",
        "jit.grant_duraton",
        r"unknown check 'jit.grant_duraton' \(known: .*jit.grant_duration",
    ),
    (
        "rules.yaml",
        "controls: [pci-dss-4.0.1:7.2.4,",
        "controls: [pci-dss-4.0.1:7.2.9,",
        "pci-dss-4.0.1:7.2.9",
        r"control 'pci-dss-4.0.1:7.2.9' is not in the catalogue",
    ),
    (
        "rules.yaml",
        "    severity: critical\n    params: {deadline: 72h}",
        "    severity: urgent\n    params: {deadline: 72h}",
        "severity: urgent",
        r"severity 'urgent' must be one of \['critical'",
    ),
    (
        "rules.yaml",
        "params: {grace: 5m}",
        "params: {grace: 5 minutes}",
        "grace: 5 minutes",
        r"grace must be a duration such as 90s.*not '5 minutes'",
    ),
    (
        "rules.yaml",
        "params: {grace: 5m}",
        "params: {grace: 5m, slack: 1m}",
        "slack: 1m",
        r"unknown field 'slack'",
    ),
    (
        "rules.yaml",
        "  - id: jit-no-self-approval\n",
        "  - id: jit-session-covered\n",
        "id: jit-session-covered\n    check: jit.no_self",
        r"rule 'jit-session-covered' is defined twice",
    ),
    (
        "raci.yaml",
        "A: key-custody",
        "A: key-keepers",
        "A: key-keepers",
        r"unknown party 'key-keepers' \(known: .*key-custody",
    ),
    (
        "raci.yaml",
        "  tenant-apps: {org: tenant, roles: [app]",
        "  tenant-apps: {org: tenant, tenant: globex, roles: [app]",
        "tenant: globex",
        r"unknown tenant 'globex'",
    ),
    (
        "raci.yaml",
        "  msp: {org: partner",
        "  msp: {org: vendor",
        "org: vendor",
        r"org 'vendor' must be one of",
    ),
    (
        "controls.yaml",
        'a.8.24: {title: "Use of cryptography", streams: [KEY]}',
        'a.8.24: {title: "Use of cryptography", streams: [KEYS]}',
        "streams: [KEYS]",
        r"unknown evidence stream 'KEYS'",
    ),
    (
        "inventory.yaml",
        "owner: media-b, segment: seg-media, addresses",
        "owner: media-c, segment: seg-media, addresses",
        "owner: media-c",
        r"unknown tenant 'media-c'",
    ),
    (
        "rules.yaml",
        "  - id: key-tenant-use\n",
        "  - id: key-tenant-use\n  bad: [\n",
        "bad: [",
        r"not valid YAML",
    ),
    (
        "rules.yaml",
        "    activity: segmentation-testing\n    severity: critical",
        "    activity: segmentation-tests\n    severity: critical",
        "activity: segmentation-tests",
        r"activity 'segmentation-tests' is not in the RACI matrix \(known: .*segmentation-testing",
    ),
    (
        "rules.yaml",
        "    check: integrity.forged_identity\n    activity: log-review\n",
        "    check: integrity.forged_identity\n",
        "id: forged-source-identity",
        r"missing field\(s\): activity",
    ),
    (
        "inventory.yaml",
        '{account: breakglass, assets: ["*"]}',
        '{account: breakglass, assets: ["bastion-1", "bastion-9"]}',
        "bastion-9",
        r"break-glass account 'breakglass' names unknown asset 'bastion-9'",
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "marker", "problem"), CASES, ids=[f"{c[0]}:{c[4][:30]}" for c in CASES]
)
def test_broken_policy_file(
    pol: Path, file: str, old: str, new: str, marker: str, problem: str
) -> None:
    edit(pol / file, old, new)
    _fails(pol, file, marker, problem)


WAIVER = (
    "  - id: W-1\n    rule: jit-no-self-approval\n    approver: meera.s\n    reason: r\n"
    "    risk: low\n    effective: 2026-07-01T00:00:00Z\n    expires: 2026-12-31T00:00:00Z\n"
)
WAIVER_CASES = [
    (
        "    rule: jit-no-self-approval\n",
        "",
        "id: W-1",
        r"waiver 'W-1' must name a rule or a result id",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: jit-self-approval\n",
        "rule: jit-self",
        r"unknown rule 'jit-self-approval'",
    ),
    (
        "expires: 2026-12-31T00:00:00Z",
        "expires: 2026-06-30T00:00:00Z",
        "expires:",
        r"expires 2026-06-30T00:00:00Z is not after effective 2026-07-01T00:00:00Z",
    ),
    (
        "approver: meera.s",
        "approver: mallory",
        "approver:",
        r"approver 'mallory' is not a principal of the inventory",
    ),
    ("risk: low", "risk: negligible", "risk:", r"risk 'negligible' must be one of"),
    ("expires: 2026-12-31T00:00:00Z", "expires: 31/12/2026", "expires:", r"expires"),
    (
        "    rule: jit-no-self-approval\n",
        "    result: F-123\n",
        "result:",
        r"result 'F-123' is not a result id",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: jit-no-self-approval\n    scope: {principal: ravi.kk}\n",
        "scope:",
        r"scope.principal: unknown principal 'ravi.kk'",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: jit-no-self-approval\n    scope: {tenant: fintech-b}\n",
        "scope:",
        r"scope.tenant: unknown tenant 'fintech-b'",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: key-tenant-use\n    scope: {key: fintech-a-dta}\n",
        "scope:",
        r"scope.key: unknown key 'fintech-a-dta'",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: jit-no-self-approval\n    scope: {asset: fa-db-09}\n",
        "scope:",
        r"scope.asset: unknown asset 'fa-db-09'",
    ),
    (
        "    rule: jit-no-self-approval\n",
        "    rule: segmentation-denied-blocked\n    scope: {segment: seg-ai->seg-fin}\n",
        "scope:",
        r"scope.segment: unknown segment 'seg-fin'",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "marker", "problem"), WAIVER_CASES, ids=[c[3][:40] for c in WAIVER_CASES]
)
def test_broken_waiver(pol: Path, old: str, new: str, marker: str, problem: str) -> None:
    (pol / "waivers.yaml").write_text("version: 1\nwaivers:\n" + WAIVER.replace(old, new))
    _fails(pol, "waivers.yaml", marker, problem)


def test_good_waiver_loads(pol: Path) -> None:
    (pol / "waivers.yaml").write_text("version: 1\nwaivers:\n" + WAIVER)
    (w,) = load_policies(pol).waivers
    assert (w.id, w.rule, w.line) == ("W-1", "jit-no-self-approval", 3)


@pytest.mark.parametrize("prefix", ["R-", "F-"])
def test_waiver_result_ids_in_both_forms_load(pol: Path, prefix: str) -> None:
    body = WAIVER.replace("rule: jit-no-self-approval", f"result: {prefix}0123456789abcdef")
    (pol / "waivers.yaml").write_text("version: 1\nwaivers:\n" + body)
    (w,) = load_policies(pol).waivers
    assert w.result == f"{prefix}0123456789abcdef"


def test_missing_required_file(pol: Path) -> None:
    (pol / "controls.yaml").unlink()
    with pytest.raises(ConfigError, match=r"controls.yaml: required policy file is missing"):
        load_policies(pol)


def test_cedar_syntax_error_names_the_file_and_line(ev: Evidence, pol: Path) -> None:
    access = pol / "access"
    access.mkdir()
    good = (
        "// ours\n"
        'permit (principal, action == Action::"door.entry", resource)\n'
        "when { context.in_window };\n\n"
    )
    bad = "forbid (principal, action, resource)\nwhen { context.break_glass &&  };\n"
    (access / "site.cedar").write_text(good + bad)
    policies = load_policies(pol)  # Cedar files are parsed when the engine builds its decider
    assert access / "site.cedar" in policies.files
    with pytest.raises(ConfigError) as err:
        run(policies, ev.log)
    msg = str(err.value)
    assert msg.startswith(f"{access / 'site.cedar'}:5: Cedar policy does not parse: "), msg
    assert "builtin.cedar" not in msg


def test_operator_cedar_forbid_overrides_builtin_permit(ev: Evidence, pol: Path) -> None:
    from tests.policy.helpers import badge, the

    access = pol / "access"
    access.mkdir()
    (access / "site.cedar").write_text(
        'forbid (principal == Principal::"arjun.p", action == Action::"door.entry", resource);\n'
    )
    ev.add(badge("2026-08-03T05:00:00Z", "arjun.p"), badge("2026-08-03T05:00:00Z", "ravi.k"))
    a = run(pol, ev.log)
    assert the(a, "physical-entry-windows", principal="arjun.p").status == "fail"
    assert the(a, "physical-entry-windows", principal="ravi.k").status == "pass"


def test_errors_are_edgeaudit_errors() -> None:
    assert issubclass(InputError, EdgeauditError)
    assert InputError.exit_code == 2


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ('{windows: ["Mon-Sun 8:00-20:00"]}', r"windows: window 'Mon-Sun 8:00-20:00': expected"),
        (
            "{maintenance: [{from: 2026-08-02, to: 2026-08-03T00:00:00Z}]}",
            r"maintenance: not an RFC 3339 UTC time: .2026-08-02.$",
        ),
        (
            "{maintenance: [{from: 2026-08-03T00:00:00Z, to: 2026-08-02T00:00:00Z}]}",
            r"maintenance: maintenance window ends before it starts",
        ),
        ("{maintenance: [{to: 2026-08-02T00:00:00Z}]}", r"maintenance: .*from"),
    ],
)
def test_bad_physical_window_params_name_the_rule_line(
    pol: Path, params: str, problem: str
) -> None:
    from tests.policy.helpers import set_rule_params

    set_rule_params(pol / "rules.yaml", "physical-entry-windows", params)
    _fails(pol, "rules.yaml", "    params: " + params, problem)


def test_bad_key_authorization_names_the_rule_line(pol: Path) -> None:
    from tests.policy.helpers import set_rule_params

    params = "{authorizations: [{role: key-admin, tenant: fintech-a, until: tomorrow}]}"
    set_rule_params(pol / "rules.yaml", "key-tenant-use", params)
    _fails(pol, "rules.yaml", "    params: " + params, r"authorizations: not an RFC 3339 UTC time")
