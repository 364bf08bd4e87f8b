from __future__ import annotations

import pytest

from khmer_civic.text import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("សួស្តី។ តើមណ្ឌលសុខភាពបើកទេ? Thanks.", ["សួស្តី។", "តើមណ្ឌលសុខភាពបើកទេ?", "Thanks."]),
        ("ប្រជុំចប់ហើយ៕", ["ប្រជុំចប់ហើយ៕"]),
        ("ទិញសៀវភៅ ប៊ិច ។ល។ សម្រាប់សិស្ស។ អរគុណ", ["ទិញសៀវភៅ ប៊ិច ។ល។ សម្រាប់សិស្ស។", "អរគុណ"]),
        ("តម្លៃ 3.5 ដុល្លារ។ ថ្លៃណាស់!!! មែនទេ", ["តម្លៃ 3.5 ដុល្លារ។", "ថ្លៃណាស់!!!", "មែនទេ"]),
        ("ជួរទី១\nជួរទី២", ["ជួរទី១", "ជួរទី២"]),
        ("គាត់និយាយថា \"ល្អណាស់។\" ហើយ", ["គាត់និយាយថា \"ល្អណាស់។\"", "ហើយ"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_type_error() -> None:
    with pytest.raises(TypeError):
        split_sentences(None)  # type: ignore[arg-type]
