from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from khmer_civic.text import mask_pii


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ទាក់ទង 012 345 678 ឬ sok@example.org @Dara", "ទាក់ទង [PHONE] ឬ [EMAIL] [MENTION]"),
        ("លេខ +855 97 777 8888 ណា", "លេខ [PHONE] ណា"),
        ("លេខ ០៩៧៧៧៧៨៨៨", "លេខ [PHONE]"),
        ("ថ្ងៃ 12/05/2024 ម៉ោង 8:30", "ថ្ងៃ 12/05/2024 ម៉ោង 8:30"),
        ("តម្លៃ 25000 រៀល", "តម្លៃ 25000 រៀល"),
        ("link https://fb.com/groups/123456789 ok", "link https://fb.com/groups/123456789 ok"),
        ("ជួសជុល@Daraគ្រូពេទ្យមកហើយ", "ជួសជុល[MENTION]គ្រូពេទ្យមកហើយ"),
        ("អរគុណ @សុខា ណាស់", "អរគុណ [MENTION] ណាស់"),
    ],
)
def test_mask(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_switches() -> None:
    text = "call 012 345 678 or @Dara https://x.org"
    assert mask_pii(text, phones=False) == "call 012 345 678 or [MENTION] https://x.org"
    assert mask_pii(text, mentions=False, urls=True) == "call [PHONE] or @Dara [URL]"


@given(st.text(max_size=80))
def test_never_raises(text: str) -> None:
    assert isinstance(mask_pii(text), str)


def test_type_error() -> None:
    with pytest.raises(TypeError):
        mask_pii(12)  # type: ignore[arg-type]
