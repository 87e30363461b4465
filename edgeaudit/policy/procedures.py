"""Each built-in check's test procedure and population, in words an auditor can re-perform.

An audit pack states, for every result, what was tested and on which population (all entries
of the kinds below in the period and scope, never a sample), with the rule's parameters and the
signed checkpoint the assessment ran against. A check without an entry here (a plug-in) is
described by its title alone.
"""

from __future__ import annotations

from typing import Final

# check -> (procedure, population)
PROCEDURES: Final[dict[str, tuple[str, str]]] = {
    "jit.session_covered": (
        "Rebuild every privileged session from the records of one access (logon, pam and auditd "
        "session records, Teleport sessions, sudo/su switches, correlated on asset, account and "
        "session id or process id) and its end record; decide with the access policies whether "
        "it needs a grant; if it does, measure the seconds it ran outside every approved, "
        "unexpired grant of the same principal for the asset (grace at both ends). Any "
        "uncovered second fails the principal-asset result.",
        "every successful auth.logon, session.start and priv.switch on an inventory asset in "
        "the period, with auth.logoff / session.end, and grant.* records of the period and the "
        "400 days before",
    ),
    "jit.no_self_approval": (
        "For every grant approved in the period, compare the approver with the requester.",
        "every grant.request / grant.approve of the period (and reviews, revocations)",
    ),
    "jit.approver_accountable": (
        "For every grant approved in the period, check that the approver holds A for the "
        "approval activity of the RACI matrix on the asset's owner.",
        "every grant.approve of the period",
    ),
    "jit.admin_override": (
        "For every grant approved in the period, check that a review approved it before "
        "approval and that it was not an administrator override.",
        "every grant.approve and grant.review of the period",
    ),
    "jit.grant_duration": (
        "For every grant approved in the period, compare the requested duration (or expiry "
        "minus request time) with the maximum.",
        "every grant.request / grant.approve of the period",
    ),
    "jit.breakglass_reviewed": (
        "For every session of a break-glass account, find a review.breakglass naming one of its "
        "entries, by a reviewer holding R or A for the rule's activity who is not the session's "
        "principal, within the deadline.",
        "every session of a break-glass account in the period, and every review.breakglass",
    ),
    "keys.tenant_use": (
        "Decide every use of a tenant key with the access policies: the tenant's own "
        "principals, or whoever an authorization of the rule names, in its window. Uses of "
        "keys the inventory does not know are not evaluated.",
        "every key.use of the period",
    ),
    "keys.rotation_age": (
        "For every inventory key, take the latest rotation (rotation events, key-state "
        "snapshots) and compare its age at the as-of time with the maximum; a key-state "
        "snapshot older than its cadence makes the result stale, then overdue.",
        "every key.rotate and key.state of the period and the 400 days before",
    ),
    "raci.structure": (
        "Check every activity row of the RACI matrix: exactly one Accountable, at least one "
        "Responsible, and parties with members in the inventory (for each tenant on '*' rows).",
        "the RACI matrix and the inventory (policy files, digests in the assessment)",
    ),
    "raci.practice": (
        "Match every privileged command against the activities' command fragments and check "
        "that whoever ran it holds R or A for that activity on the asset's owner.",
        "every successful priv.switch and session.command of the period",
    ),
    "reviews.access_cadence": (
        "Take the latest review.access by a reviewer holding R or A for the rule's activity "
        "who is not among its subjects; it passes in the period, is stale before it while the "
        "cadence deadline has not passed, and fails once it has.",
        "every review.access of the period and the 400 days before",
    ),
    "segmentation.cadence": (
        "For every ordered segment pair of the isolation matrix, take the latest probe run "
        "that probed it; a run in the period passes, an earlier one is stale until the cadence "
        "deadline, then fails.",
        "every probe.run / probe.result of the period and the 400 days before",
    ),
    "segmentation.denied_blocked": (
        "For every denied segment pair, the latest probe run must show every denied path "
        "blocked, on a run in the period whose positive controls passed; any reachable denied "
        "path fails.",
        "every probe.run / probe.result of the period and the 400 days before",
    ),
    "segmentation.allowed_reachable": (
        "For every allowed segment pair, the latest probe run in the period must reach the "
        "allowed paths.",
        "every probe.run / probe.result of the period and the 400 days before",
    ),
    "physical.windows": (
        "Decide every room entry with the access policies against the approved windows "
        "(site-local time, daylight saving included) and maintenance windows.",
        "every physical.access of the period",
    ),
    "integrity.store": (
        "Verify the whole store (every leaf hash, the chain, the tree, every checkpoint "
        "signature) and check that a fresh signed checkpoint covers the period's evidence.",
        "every entry of the log up to the evaluated size, and every signed checkpoint",
    ),
    "integrity.completeness": (
        "Count the records each source could not parse (quarantine) and the gaps sources "
        "reported, against the limit.",
        "the quarantine and every audit.pipeline record of the period",
    ),
    "integrity.forged_identity": (
        "Find source records quarantined because they forge a trusted program's identity.",
        "the quarantine of the period",
    ),
    # residency, retention, clocks, reviews, key lifecycle, leavers, incidents (issue 15)
    "residency.regions": (
        "For every tenant with allowed regions, compare where each of its keys lives (keys' "
        "regions, the KMS ARN's region, multi-Region keys, else the site's region), where each "
        "use and administration happened (CloudTrail awsRegion), every replication, every "
        "storage and every backup run of its data with the allowed regions.",
        "every key.use, key.config, key.rotate and backup.run of the period, and the "
        "inventory's keys, storage and site region",
    ),
    "retention.horizon": (
        "From the store's per-source daily summaries, find each source's first entry and every "
        "gap between consecutive entries (across midnight, UTC) from the retention horizon to "
        "the store's latest entry; compare with the horizon of the tenants' jurisdictions and "
        "the source's largest gap.",
        "the per-source daily summaries of every entry up to the evaluated size",
    ),
    "clocks.synchronized": (
        "For every asset with clock-sync records, check each record of the period "
        "(synchronized, configured server, offset) and the time between consecutive records.",
        "every clock.sync of the period and the 400 days before",
    ),
    "reviews.log_review": (
        "For every site-local calendar day of the period that has ended, find a review.log by "
        "someone holding R or A for the rule's activity in the days of the cadence ending on it.",
        "every review.log of the period and the 400 days before",
    ),
    "reviews.tenant_access": (
        "For every tenant, take each of its principals' latest review.access naming the tenant "
        "by the tenant's reviewer or R/A of the rule's activity for the tenant (never their "
        "own); the oldest must be within the cadence.",
        "every review.access naming a tenant in the period and the 400 days before",
    ),
    "keys.lifecycle": (
        "For every key administration (rotation, configuration, policy, deletion; not failed "
        "calls or the provider's own rotation), check the principal's custody role or grant; "
        "for every key, check the period's key-state snapshots for exportable or deletable and "
        "the calls that scheduled a deletion.",
        "every key.config and key.rotate of the period, key.state of the period and before",
    ),
    "keys.root_token": (
        "Find every request made with a Vault root token.",
        "every key.use, key.config, key.rotate and vault.request of the period",
    ),
    "leavers.no_activity": (
        "For every principal with an end date (or listed as a leaver), find any activity from "
        "that date on.",
        "every logon, session, switch, command, door entry, grant, key use and administration, "
        "Vault request and review of the period",
    ),
    "incidents.reporting": (
        "For every incident declared in the period, find the report to each authority of its "
        "tenant's jurisdiction and compare the elapsed time since awareness with the deadline.",
        "every incident.open of the period and every incident.reported up to the as-of time",
    ),
}


def procedure(check: str, title: str) -> tuple[str, str]:
    """(procedure, population) in words for ``check``."""
    return PROCEDURES.get(check, (title, "the entries the check reads in the period"))
