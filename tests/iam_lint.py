"""IAM policy documents through `parliament` (a maintained IAM policy linter), with the findings we
accept each justified here, once, for every test that lints a policy."""

from __future__ import annotations

import json
from typing import Any

from parliament import analyze_policy_string

# A role's trust policy is a resource policy attached to the role itself: IAM refuses a Resource
# element in it (MalformedPolicyDocument), while parliament reads every document as an identity
# policy and asks for one. That is the only finding a trust policy may have.
TRUST_POLICY_ACCEPTED = {("MALFORMED", "Statement contains neither Resource nor NotResource")}


def findings(document: str | dict[str, Any], *, trust: bool = False) -> list[tuple[str, str]]:
    """(issue, detail) of every parliament finding (community auditors included) not justified above."""
    text = document if isinstance(document, str) else json.dumps(document)
    policy = analyze_policy_string(text, ignore_private_auditors=True, include_community_auditors=True)
    found = [(str(f.issue), str(f.detail)) for f in policy.findings]
    return [f for f in found if not (trust and f in TRUST_POLICY_ACCEPTED)]
