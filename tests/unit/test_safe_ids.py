"""Test ids made from YAML or database labels carry no markup into the report (issue 13)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.phases import safe_id


@given(st.text())
def test_no_markup_survives(label: str) -> None:
    made = safe_id(label)
    assert not set(made) & set("<>&\"'`=\\") and len(made) == len(label)


def test_ordinary_labels_are_unchanged() -> None:
    for label in ("dbo.MON_UpdateAudit", "dbo.STG_MON_CustMasterSchedule_Subitems", "dbo.SP_RollbackBatch"):
        assert safe_id(label) == label
    assert safe_id("dbo.X<img src=x onerror=alert(1)>") == "dbo.X_img src_x onerror_alert(1)_"
