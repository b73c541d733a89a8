"""``scrutiny list KIND NAME`` prints an entry's arguments with their types, defaults and docs."""

import json

from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.registry import Registry, _arg_docs


def test_list_a_model_shows_its_arguments():
    res = CliRunner().invoke(app, ["list", "models", "small_cnn", "--json"])
    assert res.exit_code == 0, res.output
    args = {a["name"]: a for a in json.loads(res.stdout)["arguments"]}
    assert args["width"]["default"] == 32 and args["width"]["type"] == "int" and not args["width"]["required"]
    assert args["num_classes"]["given_by_scrutiny"] and not args["width"]["given_by_scrutiny"]


def test_an_unknown_entry_is_one_line_with_a_close_match():
    res = CliRunner().invoke(app, ["list", "models", "smal_cnn"])
    assert res.exit_code != 0 and "did you mean 'small_cnn'" in str(res.exception)


def test_google_style_argument_docs_are_read():
    reg = Registry("thing")

    def build(depth: int, width: int = 4):
        """A thing.

        Args:
            depth: how many blocks.
                More text on a second line.
            width: channels of the first block.

        Returns:
            The thing.
        """

    reg.add("t", build)
    rows = {a["name"]: a for a in reg.arguments("t")}
    assert rows["depth"]["required"] and rows["depth"]["doc"] == "how many blocks."
    assert rows["width"]["default"] == 4 and rows["width"]["doc"] == "channels of the first block."
    assert _arg_docs("no sections") == {}
