"""config/rules.py: how a TOML table's values are checked against a spec's annotations, and how errors read."""

import math
from dataclasses import dataclass

import pytest

from tuner.config.rules import build, check_table, from_table, one_of, positive, type_name, type_ok
from tuner.errors import ConfigError


@dataclass(frozen=True)
class Example:
    count: int = 1
    rate: float = 0.5
    names: tuple[str, ...] = ()
    target: str | tuple[str, ...] = ""
    limit: float | None = None

    def __post_init__(self) -> None:
        positive("count", self.count)


@pytest.mark.parametrize("value, hint, ok", [
    (3, int, True), (True, int, False), (3.0, int, False),  # a bool is not a number, nor 3.0 a count
    (2, float, True), (math.nan, float, False), (math.inf, float, False),  # NaN and inf are never a setting
    (["a", "b"], tuple[str, ...], True), (["a", 1], tuple[str, ...], False), ("ab", tuple[str, ...], False),
    (None, float | None, True), ("x", str | tuple[str, ...], True),
])
def test_a_value_is_checked_against_its_annotation(value, hint, ok):
    assert type_ok(value, hint) is ok


@pytest.mark.parametrize("hint, words", [
    (int, "an integer"), (tuple[str, ...], "a list of strings"), (tuple[int, ...], "a list of integers"),
    (tuple[float, ...], "a list of finite numbers"), (float | None, "a finite number or absent"),
])
def test_type_names_read_as_english(hint, words):
    assert type_name(hint) == words


def test_lists_become_tuples_where_the_field_is_one_and_a_spec_hashes():
    values = check_table(Example, {"names": ["a"], "target": ["y", "z"]}, "data")
    assert values == {"names": ("a",), "target": ("y", "z")}
    assert hash(from_table(Example, {"names": ["a"]}, "data"))


@pytest.mark.parametrize("table, message", [
    ({"cuont": 2}, r"unknown key data.cuont; valid keys in \[data\]: count, rate, names, target, limit"),
    ({"rate": "fast"}, "data.rate must be a finite number, got rate='fast'"),
    ({"names": "a"}, "data.names must be a list of strings, got names='a'"),
    ({"count": 0}, "data.count must be positive, got count=0"),  # the spec's own rule, named by section
])
def test_each_bad_value_is_one_line_naming_the_section_and_key(table, message):
    with pytest.raises(ConfigError, match=message):
        from_table(Example, table, "data")


def test_a_section_that_is_not_a_table_and_a_value_outside_its_choices():
    with pytest.raises(ConfigError, match=r"\[train\] must be a table, got 3"):
        check_table(Example, 3, "train")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cell must be one of rnn, lstm, gru; got cell='transformer'"):
        one_of("cell", "transformer", ("rnn", "lstm", "gru"))
    with pytest.raises(ConfigError, match="study.count must be positive"):
        build(Example, {"count": -1}, "study")
