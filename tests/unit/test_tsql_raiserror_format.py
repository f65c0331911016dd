"""RAISERROR's substitution (engine._printf) against C's printf rules for the same specifications, which the
RAISERROR page follows; Python's % operator implements them (issue 10)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_opus.tsql.engine import _printf
from pytest_opus.tsql.translate import NotInSubset

flags = st.text(alphabet="-+0 ", max_size=3)
widths = st.one_of(st.just(""), st.integers(min_value=0, max_value=12).map(str))
precisions = st.one_of(st.just(""), st.integers(min_value=0, max_value=8).map(lambda p: f".{p}"))


@given(flags, widths, precisions, st.sampled_from("dixX"), st.integers(min_value=0, max_value=2**31 - 1))
def test_integers_as_c_formats_them(flag: str, width: str, precision: str, kind: str, value: int) -> None:
    if kind in "xX":  # C ignores the sign flags for unsigned conversions; Python's % does not
        flag = flag.replace("+", "").replace(" ", "")
    # where Python's % leaves C's rules: C ignores `0` when a precision is given, and writes no digit for
    # 0 with precision 0 (the runner refuses that one)
    assume(not (precision and "0" in flag) and not (precision == ".0" and value == 0))
    spec = f"%{flag}{width}{precision}{kind}"
    assert _printf(f"<{spec}>", [value]) == f"<{spec % value}>"


@given(flags.map(lambda f: f.replace("+", "").replace(" ", "").replace("0", "")), widths, precisions,
       st.text(alphabet="abc xyz", max_size=10))
def test_strings_as_c_formats_them(flag: str, width: str, precision: str, text: str) -> None:
    spec = f"%{flag}{width}{precision}s"
    assert _printf(spec, [text]) == spec % text


@given(st.integers(min_value=-(2**31), max_value=-1))
def test_unsigned_reads_a_negative_number_as_32_bits(value: int) -> None:
    assert _printf("%u", [value]) == str(value + 2**32)


def test_zero_flag_is_ignored_with_a_precision_as_in_c() -> None:
    assert _printf("[%06.3d]", [42]) == "[   042]"


def test_a_long_message_is_cut_with_an_ellipsis() -> None:
    message = _printf("%s", ["x" * 3000])
    assert len(message) == 2047 and message.endswith("...")


@pytest.mark.parametrize(("template", "args"), [("%f", [1.5]), ("%c", ["a"]), ("%d", ["text"]), ("%s", [5]),
                                                ("%d", [2**40]), ("%.0d", [0])])
def test_what_sql_server_does_not_take_is_refused(template: str, args: list) -> None:
    with pytest.raises(NotInSubset):
        _printf(template, args)
