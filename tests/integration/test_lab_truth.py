"""Ground truth for the Entra Connect, Entra Cloud Sync and per-class scenarios.

Every row of `scenarios.EXPECTATIONS` is a real write bound as the scenario's account
(success, or LDAP 50 with 00002098 — the sync engine's 8344) and a read-back of the value
bound as the same account. These tests pin what the DC enforces; the kit's own verdicts on
these scenarios are compared with the same table elsewhere."""

from __future__ import annotations

import pytest

from richcoex_kit.lab import scenarios as sc

from .conftest import attempt_writes_and_reads

pytestmark = pytest.mark.samba


@pytest.mark.parametrize("scenario", sc.PRODUCT_SCENARIOS, ids=lambda s: s.name)
def test_the_dc_enforces_the_expected_truth(lab, scenario):
    observed = attempt_writes_and_reads(lab, scenario.sync_account, scenario.user, scenario.probes)
    expected = {row.attribute: (row.writable, row.readable) for row in sc.EXPECTATIONS if row.scenario == scenario.name}
    assert observed == expected
