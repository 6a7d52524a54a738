"""Widgets driven as a user would, without a browser: set values, click, read what shows.
Facts come from the shipped lab snapshot (captured from the real Samba DC)."""

from __future__ import annotations

import pytest

from richcoex_kit import runbook as rb
from richcoex_kit.checks import CheckRequest
from richcoex_kit.directory.snapshot import SnapshotDirectory, builtin_lab_path
from richcoex_kit.scan import scan
from richcoex_kit.widgets import AclViewer, GroupPanel, ScanTable


@pytest.fixture(scope="module")
def lab() -> SnapshotDirectory:
    return SnapshotDirectory.load(builtin_lab_path(), kind="lab")


def test_acl_viewer_highlights_deciding_aces_and_filters(lab):
    step = rb.Step.run("03", lab, CheckRequest("rc-deny"))
    viewer = rb.acl_viewer(step)
    assert isinstance(viewer, AclViewer)
    everything = len(viewer.rows)
    assert len(viewer.visible_rows()) == everything and everything > 40
    viewer.relevant.value = True
    deciding = viewer.visible_rows()
    assert [r.index for r in deciding] == [0, 1, 2, 3, 4, 5] and all(not r.allow for r in deciding)
    assert "decides msExchSafeSendersHash" in viewer.table.value
    viewer.relevant.value = False
    viewer.source.value = "explicit"
    assert all(not r.inherited for r in viewer.visible_rows())
    viewer.source.value = "all"
    viewer.trustee.value = "LAB\\MSOL_AD_Sync_RichCoexistence"
    assert {r.trustee for r in viewer.visible_rows()} == {"LAB\\MSOL_AD_Sync_RichCoexistence"}
    viewer.sddl.value = True
    assert "(OD;;WP;" in viewer.table.value
    bundle = viewer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "(OD;;WP;" in bundle["text/html"]


def test_acl_viewer_says_when_inheritance_is_off(lab):
    step = rb.Step.run("03", lab, CheckRequest("rc-noinherit"))
    assert "inheritance <b>disabled</b>" in rb.acl_viewer(step).to_html()


def test_group_panel_rechecks_another_account_on_click(lab):
    panel = GroupPanel(lab, CheckRequest(None, "MSOL_AD_Sync", "MSOL_AD_Sync_RichCoexistence", product="dirsync"))
    assert [f.status.value for f in panel.findings] == ["PASS", "PASS"]
    assert "Direct members of MSOL_AD_Sync_RichCoexistence (2)" in panel.output.value
    panel.account.value = "MSOL_nested"
    panel.button.click()
    assert panel.findings[1].status.value == "PASS" and "RC-Nested-Sync" in panel.output.value
    panel.account.value = "MSOL_notmember"
    panel.button.click()
    assert panel.findings[1].status.value == "FAIL"
    panel.account.value = "nobody"
    panel.button.click()
    assert panel.findings == [] and "no object matches &#x27;nobody&#x27;" in panel.output.value


def test_attribute_grid_joins_verdicts_values_and_the_dcs_word(lab):
    step = rb.Step.run("04", lab, CheckRequest("rc-proxyonly"))
    confirmation = rb.confirm(step)
    assert confirmation.allowed == frozenset({"proxyaddresses"})
    grid = rb.attribute_grid(step, confirmation)
    assert {r.name: r.status.value for r in grid.rows}["proxyAddresses"] == "PASS"
    grid.only_problems.value = True
    assert "proxyAddresses" not in {r.name for r in grid.visible_rows()} and len(grid.visible_rows()) == 5
    assert all(f.status.value != "ERROR" for f in rb.confirmed_findings(step, confirmation))


def test_scan_table_filters_by_cause_and_dn(lab):
    result = scan(lab, CheckRequest(None), "OU=RichCoex,DC=lab,DC=example,DC=test")
    table = ScanTable(result)
    assert len(table.visible()) == 6
    table.cause.value = "deny"
    assert [r.dn.split(",")[0] for r in table.visible()] == ["CN=rc-deny"]
    table.cause.value = "(every cause)"
    table.contains.value = "ou=nogrant"
    assert {r.dn.split(",")[0] for r in table.visible()} == {"CN=rc-nogrant", "CN=rc-proxyonly", "CN=rc-propset"}
    assert "3 of 6 failing objects shown" in table.table.value
