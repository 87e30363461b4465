"""``edgeaudit probe`` errors that need no network: each is exit 2 with a clear message."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from edgeaudit.cli.main import main
from tests.probe.conftest import TOPO, Workspace


def run_cli(ws: Workspace, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["--workspace", str(ws.root), *argv]
    if argv[0] == "probe":
        args += ws.policy_args()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--plan", "nope"], "no plan 'nope' (plans: from-b, from-c, l2, main)"),
        (["run"], "usage: edgeaudit probe run --plan NAME"),
        (["run", "--plan", "main", "--trigger", "cron"], "expected manual, schedule or change:REF"),
        (["schedule", "--plan", "l2"], "no plan to schedule"),
        (["schedule"], "no scheduled plan has its vantage segment here"),
    ],
)
def test_usage_errors(workspace_nonet: Workspace, argv: list[str], message: str) -> None:
    code, _, err = run_cli(workspace_nonet, "probe", *argv)
    assert code == 2
    assert message in err


def test_policy_file_errors_name_the_file(workspace_nonet: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "isolation.yaml"
    bad.write_text('version: "1"\ndefault: deny\nallow:\n  - {from: seg-v, to: seg-q, reason: x}\n')
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "--workspace",
                str(workspace_nonet.root),
                "probe",
                "run",
                "--plan",
                "main",
                "--inventory",
                str(TOPO / "inventory.yaml"),
                "--isolation",
                str(bad),
                "--plans",
                str(TOPO / "probes.yaml"),
            ]
        )
    assert code == 2
    assert f"{bad}:4: unknown segment 'seg-q'" in err.getvalue()


def test_workspace_policies_are_the_default(workspace_nonet: Workspace) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--workspace", str(workspace_nonet.root), "probe", "run", "--plan", "x"])
    assert code == 2
    assert f"{workspace_nonet.root}/policies/inventory.yaml: cannot read" in err.getvalue()


def test_namespace_tests_skip_without_root_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.probe import netns

    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(netns, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="need root"):
        netns.require_netns()
    monkeypatch.setattr(netns, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true: these tests must run"):
        netns.require_netns()
