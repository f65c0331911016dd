from pytest_opus.catalog import Catalog, Column, Table, split_name


def test_lookup_is_case_insensitive_and_schema_aware() -> None:
    t = Table("dbo", "MON_UpdateAudit", (Column("audit_id", 1, "int", identity=True, nullable=False),))
    other = Table("stage", "MON_UpdateAudit", ())
    cat = Catalog.build([t, other])
    assert cat.table("DBO.mon_updateaudit") is t
    assert cat.table("[stage].[MON_UpdateAudit]") is other
    assert cat.table("mon_updateaudit") is t  # default schema is dbo
    assert t.column("AUDIT_ID") is t.columns[0]
    assert cat.table("dbo.nothing") is None


def test_type_text() -> None:
    assert Column("a", 1, "nvarchar", max_length=-1).type_text == "nvarchar(max)"
    assert Column("a", 1, "varchar", max_length=50).type_text == "varchar(50)"
    assert Column("a", 1, "decimal", precision=18, scale=4).type_text == "decimal(18,4)"
    assert Column("a", 1, "datetime2").type_text == "datetime2"
    assert split_name("x") == ("dbo", "x")
