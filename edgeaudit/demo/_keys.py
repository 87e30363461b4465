"""Key management sources: Vault transit key state, AWS KMS rotation status, CloudTrail."""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import orjson

from edgeaudit.demo._common import entry, hexid, iso, uuid


def write_keystate(
    root: Path, rel: str, key: str, versions: list[float], observed: str
) -> dict[str, Any]:
    doc = {
        "request_id": str(uuid(random.Random(key))),
        "lease_id": "",
        "lease_duration": 0,
        "renewable": False,
        "data": {
            "auto_rotate_period": 0,
            "deletion_allowed": False,
            "derived": False,
            "exportable": False,
            "keys": {str(i + 1): int(v) for i, v in enumerate(versions)},
            "latest_version": len(versions),
            "min_decryption_version": 1,
            "min_encryption_version": 0,
            "name": key,
            "supports_encryption": True,
            "type": "aes256-gcm96",
        },
        "warnings": None,
    }
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return entry(rel, "vault-keystate", 1, 1, options={"mount": "transit", "observed_at": observed})


def write_kms_rotation(
    root: Path, rel: str, arn: str, rotations: list[float], observed: str
) -> dict[str, Any]:
    doc = {
        "KeyRotationEnabled": True,
        "KeyId": arn,
        "RotationPeriodInDays": 365,
        "NextRotationDate": iso(max(rotations) + 365 * 86400).replace("Z", "+00:00"),
        "Rotations": [
            {
                "KeyId": arn,
                "RotationDate": iso(r).replace("Z", "+00:00"),
                "RotationType": "AUTOMATIC",
            }
            for r in rotations
        ],
        "Truncated": False,
    }
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return entry(rel, "kms-rotation", 1, 1, options={"observed_at": observed})


# --- CloudTrail (KMS) ------------------------------------------------------------------------

KMS_APPS = (  # (account, role, key ARN, source address)
    (
        "111122223333",
        "fintech-a-app",
        "arn:aws:kms:ap-south-1:111122223333:key/1b2c3d4e-0000-4000-8000-00000000000a",
        "10.10.0.11",
    ),
    (
        "444455556666",
        "ai-c-trainer",
        "arn:aws:kms:ap-south-1:444455556666:key/1b2c3d4e-0000-4000-8000-00000000000c",
        "10.30.0.31",
    ),
)
CT_SOURCE = "cloudtrail-ap-south-1"


def _ct_record(rng: random.Random, t: float, app: tuple[str, str, str, str]) -> dict[str, Any]:
    account, role, arn, addr = app
    name = rng.choice(("Decrypt", "Decrypt", "GenerateDataKey", "Encrypt"))
    session = f"i-0{hexid(rng, 16)}"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{account}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{account}",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                }
            },
        },
        "eventTime": iso(t),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "ap-south-1",
        "sourceIPAddress": addr,
        "userAgent": "aws-sdk-go-v2/1.30",
        "requestParameters": {"keyId": arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "responseElements": None,
        "requestID": uuid(rng),
        "eventID": uuid(rng),
        "readOnly": name == "Decrypt",
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "resources": [{"accountId": account, "type": "AWS::KMS::Key", "ARN": arn}],
    }


def write_cloudtrail(
    root: Path,
    rng: random.Random,
    start: float,
    end: float,
    budget: int,
    rotate: float,
    bad_files: int,
) -> tuple[list[dict[str, Any]], int]:
    """Gzipped trail files, one per window: unordered, with repeats within and across files.
    Returns the manifest entries and the number of records repeated from the previous file."""
    files = max(4, budget // 2000)
    window, entries, carry, cross = (end - start) / files, [], None, 0
    for f in range(files):
        lo = start + f * window
        recs, events = [], 0
        n = max(1, budget // files)
        for _ in range(n):
            recs.append(_ct_record(rng, lo + rng.uniform(0, window), rng.choice(KMS_APPS)))
        events = len(recs)
        if lo <= rotate < lo + window:
            account, _, arn, _ = KMS_APPS[1]
            recs.append(
                {
                    "eventVersion": "1.09",
                    "userIdentity": {"accountId": account, "invokedBy": "kms.amazonaws.com"},
                    "eventTime": iso(rotate),
                    "eventSource": "kms.amazonaws.com",
                    "eventName": "RotateKey",
                    "awsRegion": "ap-south-1",
                    "sourceIPAddress": "kms.amazonaws.com",
                    "userAgent": "kms.amazonaws.com",
                    "requestParameters": None,
                    "responseElements": None,
                    "eventID": uuid(rng),
                    "readOnly": False,
                    "resources": [{"ARN": arn, "accountId": account, "type": "AWS::KMS::Key"}],
                    "eventType": "AwsServiceEvent",
                    "managementEvent": True,
                    "recipientAccountId": account,
                    "eventCategory": "Management",
                    "serviceEventDetails": {"keyId": arn.rsplit("/", 1)[1]},
                }
            )
            events += 1
        noise = _ct_record(rng, lo + window / 2, KMS_APPS[0])
        noise.update(eventSource="sts.amazonaws.com", eventName="AssumeRole", resources=[])
        recs.append(noise)
        recs.extend(dict(r) for r in rng.sample(recs[:n], max(1, n // 50)))  # exact repeats
        if carry is not None:
            recs.append(carry)
            cross += 1
        carry = recs[0]
        malformed = 0
        if f < bad_files:
            broken = _ct_record(rng, lo + 60, KMS_APPS[1])
            del broken["eventID"]
            recs.append(broken)
            malformed = 1
        rng.shuffle(recs)
        stamp = iso(lo).replace("-", "").replace(":", "")[:13] + "Z"
        rel = f"cloudtrail/111122223333_CloudTrail_ap-south-1_{stamp}_{hexid(rng, 16)}.json.gz"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            path.open("wb") as fh,
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz,
        ):
            gz.write(orjson.dumps({"Records": recs}))
        events += 1 if f > 0 else 0  # the record carried over from the previous file
        entries.append(
            entry(
                rel,
                "cloudtrail",
                len(recs),
                events,
                malformed,
                source=CT_SOURCE,
                note="records repeated from the previous file dedupe in the store",
            )
        )
    return entries, cross
