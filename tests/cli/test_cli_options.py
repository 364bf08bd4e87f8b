"""khmer_civic.cli.options: options that take several values (``--data a b``) without click internals."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from khmer_civic.cli.options import ManyValues, ManyValuesCommand, spread_values


def _command(cls: type[click.Command], option_cls: type[click.Option]) -> click.Command:
    @click.command(cls=cls)
    @click.option("--data", "-d", "data", cls=option_cls, **({} if option_cls is ManyValues else {"multiple": True}))
    @click.option("--dev", cls=option_cls, **({} if option_cls is ManyValues else {"multiple": True}))
    @click.option("--out")
    @click.option("--pair", nargs=2)
    @click.option("-q", "--quiet", is_flag=True)
    @click.option("-v", "--verbose", count=True)
    def command(**params: Any) -> None:
        click.echo(repr(sorted((k, v) for k, v in params.items())))

    return command


def parsed(command: click.Command, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(command, args)
    return result.exit_code, result.output


NEW = _command(ManyValuesCommand, ManyValues)


@pytest.mark.parametrize(
    ("args", "data"),
    [
        (["--data", "a.csv", "b.jsonl", "--out", "m"], ("a.csv", "b.jsonl")),
        (["--data", "a", "--data", "b", "c"], ("a", "b", "c")),
        (["--data=a", "b", "-q"], ("a", "b")),
        (["-d", "a", "b"], ("a", "b")),
        (["-qd", "a", "b"], ("a", "b")),
        (["-da", "b"], ("a", "b")),
        (["--data", "-", "b"], ("-", "b")),  # the first value is taken whatever it is, as click takes it
        (["--data", "--dev", "x"], ("--dev", "x")),
        (["--out", "--data", "--data", "a"], ("a",)),  # the first "--data" is --out's value
        (["--pair", "--data", "x", "--data", "a"], ("a",)),
    ],
)
def test_spread_values(args: list[str], data: tuple[str, ...]) -> None:
    code, output = parsed(NEW, args)
    assert code == 0, output
    assert f"('data', {data!r})" in output


def test_nothing_after_a_double_dash_is_touched() -> None:
    params = NEW.params
    assert spread_values(["--data", "a", "--", "b", "--data", "c"], params) == ["--data", "a", "--", "b", "--data", "c"]
    code, output = parsed(NEW, ["--data", "a", "--", "b"])
    assert code == 2 and "unexpected extra argument (b)" in output


def test_errors_are_click_s() -> None:
    code, output = parsed(NEW, ["--out", "m", "--data"])
    assert code == 2 and "Option '--data' requires an argument." in output
    code, output = parsed(NEW, ["--data", "a", "--bogus", "b"])
    assert code == 2 and "No such option '--bogus'" in output


# ------------------------------------------------------------------ the same as the former parser patch


class _PatchedParser(click.Option):
    """The former implementation (wrapped click's private parser tables), kept here as the reference."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        tables = (getattr(parser, "_long_opt", {}), getattr(parser, "_short_opt", {}))
        for name in self.opts:
            parsed = tables[0].get(name) or tables[1].get(name)
            if parsed is None or not callable(getattr(parsed, "process", None)):
                pytest.skip("click's private parser tables changed: no reference to compare with")
            take_one = parsed.process

            def take_many(value: Any, state: Any, take_one: Any = take_one) -> None:
                take_one(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    take_one(state.rargs.pop(0), state)

            parsed.process = take_many


OLD = _command(click.Command, _PatchedParser)
TOKENS = ["--data", "--dev", "--out", "--pair", "-q", "-d", "-qd", "-v", "--data=x", "a", "b", "-", "--", "-z"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_parses_as_the_former_parser_patch(args: list[str]) -> None:
    assert parsed(NEW, args) == parsed(OLD, args)
