"""khmer_civic.extras: which modules of an optional extra are missing."""

from __future__ import annotations

from khmer_civic.extras import missing_modules


def test_missing_modules_names_only_the_absent_ones() -> None:
    assert missing_modules(["json", "khmer_civic_no_such_module", "os.path"]) == ["khmer_civic_no_such_module"]
    assert missing_modules([]) == []


def test_a_dotted_name_under_a_missing_package_is_missing_not_an_error() -> None:
    assert missing_modules(["khmer_civic_no_such_package.sub"]) == ["khmer_civic_no_such_package.sub"]
