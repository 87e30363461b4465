"""Data residency: where tenant keys live and are used, where evidence and backups are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.collect.model import KeyRef
from edgeaudit.errors import InputError
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    edit,
    event,
    inventory,
    key_use,
    only_rules,
    run,
    the,
)

RULE = "data-residency"
FA_ARN = "arn:aws:kms:ap-south-1:111122223333:key/1b2c3d4e-0000-4000-8000-00000000000a"


@pytest.fixture
def pol(pol: Path) -> Path:
    only_rules(pol / "rules.yaml", [RULE])
    return pol


def kms(time: str, region: str, api: str = "Decrypt", kind: str = "key.use", **attrs: Any) -> Any:
    op = {
        "Decrypt": "decrypt",
        "ReplicateKey": "replicate",
        "PutKeyPolicy": "put-policy",
        "UpdatePrimaryRegion": "update-primary-region",
    }[api]
    ref = KeyRef("fintech-a-kms", "aws-kms", op, "fintech-a", True)
    return event(
        kind,
        time,
        who=actor("svc-fintech-a"),
        key=ref,
        attrs={"api": api, "region": region, **attrs},
        source="cloudtrail",
    )


def test_use_in_an_allowed_region_passes_and_outside_fails_naming_entry_and_region(
    ev: Evidence, pol: Path
) -> None:
    ok = ev.one(kms("2026-08-01T10:00:00Z", "ap-south-1"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [ok]
    assert "ap-south-1 (1)" in r.reason
    bad = ev.add(kms("2026-08-02T10:00:00Z", "eu-west-1"), kms("2026-08-03T10:00:00Z", "eu-west-1"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == bad  # every use outside, none of the allowed ones
    assert "2 uses in eu-west-1 (decrypt; first at 2026-08-02T10:00:00Z" in r.reason
    assert f"entry {bad[0]}" in r.reason
    assert "fintech-a's allowed regions (in-blr, ap-south-1, ap-south-2)" in r.reason


def test_replication_is_a_finding_unless_the_replica_region_is_allowed(
    ev: Evidence, pol: Path
) -> None:
    i = ev.one(kms("2026-08-01T10:00:00Z", "ap-south-1", "ReplicateKey", "key.config"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [i]
    assert "replicated to a region the entry does not name" in r.reason
    ev2 = kms(
        "2026-08-02T10:00:00Z",
        "ap-south-1",
        "ReplicateKey",
        "key.config",
        replica_region="ap-south-2",
    )
    ev.one(ev2)
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert [e.index for e in r.evidence] == [i]  # the named, allowed replica is no finding


def test_key_material_outside_and_multi_region_keys(ev: Evidence, pol: Path) -> None:
    inv = pol / "inventory.yaml"
    edit(inv, FA_ARN, FA_ARN.replace("ap-south-1", "eu-central-1"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert "key material in eu-central-1 (inventory)" in r.reason
    edit(inv, FA_ARN.replace("ap-south-1", "eu-central-1"), FA_ARN.replace("key/1b", "key/mrk-1b"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert "multi-Region KMS key whose replica regions" in r.reason
    edit(
        inv,
        "    provider: aws-kms\n",
        "    provider: aws-kms\n    regions: [ap-south-1, ap-south-2]\n",
        2,
    )
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == NOT_EVALUATED  # allowed in the inventory, but no evidence shows the key
    assert "no use or administration of fintech-a-kms in the period" in r.reason
    i = ev.one(kms("2026-08-01T10:00:00Z", "ap-south-1"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [i]
    edit(inv, "regions: [ap-south-1, ap-south-2]", "regions: [ap-south-1, us-east-1]", 2)
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert "key material in us-east-1" in r.reason


def test_vault_keys_live_at_the_site_region(ev: Evidence, pol: Path) -> None:
    i = ev.one(key_use("2026-08-01T10:00:00Z", "svc-fintech-a", "fintech-a-data"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-data")
    assert [e.index for e in r.evidence] == [i]  # used at the site: its Vault wrote the entry
    assert r.status == PASS
    assert "lives in in-blr" in r.reason
    edit(pol / "inventory.yaml", "  region: in-blr ", "  region: sg-sin ")
    r = the(run(pol, ev.log), RULE, key="fintech-a-data")
    assert r.status == FAIL
    assert "key material in sg-sin" in r.reason


def test_backups_and_storage(ev: Evidence, pol: Path) -> None:
    site = {"time": "2026-08-01T02:00:00Z", "kind": "backup.run", "destination": "offsite-backup"}
    ok = ev.one({**site, "region": "ap-south-2"})
    a = run(pol, ev.log)
    for t in ("fintech-a", "media-b", "ai-c"):  # a site backup holds every tenant's data
        r = the(a, RULE, tenant=t, subject="backup: offsite-backup")
        assert r.status == PASS
        assert [e.index for e in r.evidence] == [ok]
    bad = ev.one(
        {
            "time": "2026-08-02T02:00:00Z",
            "kind": "backup.run",
            "tenant": "media-b",
            "destination": "s3://archive",
            "region": "eu-west-1",
        }
    )
    a = run(pol, ev.log)
    r = the(a, RULE, tenant="media-b", subject="backup: s3://archive")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [bad]
    assert "in eu-west-1" in r.reason
    assert f"entry {bad}" in r.reason
    assert not [
        x
        for x in a.results
        if x.scope.subject == "backup: s3://archive" and x.scope.tenant != "media-b"
    ]
    store = the(a, RULE, tenant="media-b", subject="evidence: evidence-store")
    assert store.status == NOT_EVALUATED  # an inventory declaration is no evidence
    assert "inside media-b's allowed regions" in store.reason
    edit(
        pol / "inventory.yaml",
        "kind: backup, region: ap-south-2",
        "kind: backup, region: us-east-1",
    )
    r = the(run(pol, ev.log), RULE, tenant="ai-c", subject="backup: offsite-backup")
    assert r.status == FAIL
    assert "backup storage offsite-backup is in us-east-1" in r.reason


def test_a_tenant_without_allowed_regions_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    edit(pol / "inventory.yaml", ", regions: [in-blr, ap-south-1, ap-south-2]}", "}", 2)
    a = run(pol, ev.log)
    assert the(a, RULE, tenant="media-b", subject=None).status == NOT_EVALUATED  # type: ignore[arg-type]
    assert the(a, RULE, key="fintech-a-kms").status == NOT_EVALUATED  # no use to show it


def test_inventory_residency_fields_are_validated(pol: Path) -> None:
    edit(pol / "inventory.yaml", "reviewer: lena.f}", "reviewer: nobody}")
    with pytest.raises(InputError, match="reviewer 'nobody' is not a principal"):
        load_policies(pol)


def test_inventory_leaver_end_date_is_validated(pol: Path) -> None:
    edit(pol / "inventory.yaml", "end_date: 2026-07-15,", "end_date: 15/07/2026,")
    with pytest.raises(InputError, match="end_date"):
        load_policies(pol)
    assert inventory().leavers


def test_moving_the_primary_region_out_of_the_allowed_ones_is_a_finding(
    ev: Evidence, pol: Path
) -> None:
    args = ("ap-south-1", "UpdatePrimaryRegion", "key.config")
    ok = ev.one(kms("2026-08-01T10:00:00Z", *args, primary_region="ap-south-2"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == PASS, r.reason
    bad = ev.one(kms("2026-08-02T10:00:00Z", *args, primary_region="us-east-1"))
    r = the(run(pol, ev.log), RULE, key="fintech-a-kms")
    assert r.status == FAIL
    assert bad in [e.index for e in r.evidence]
    assert ok not in [e.index for e in r.evidence]
    assert f"primary region moved to us-east-1 at 2026-08-02T10:00:00Z (entry {bad})" in r.reason
