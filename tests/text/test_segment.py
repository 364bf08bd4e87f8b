"""Word segmentation: Khmer runs by the CRF, other pieces kept whole, thread safety, safe loading."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from khmer_civic.text import Segmenter, normalize, segment, segment_batch
from khmer_civic.text.segment import SegmenterModelError, default_model_path, read_crfsuite_bytes


def test_khmer_words_are_split() -> None:
    words = segment("សូមអញ្ជើញចូលរួមវេទិកាសាធារណៈនៅឃុំ")
    assert "".join(words) == "សូមអញ្ជើញចូលរួមវេទិកាសាធារណៈនៅឃុំ"
    assert len(words) >= 4
    assert "ចូលរួម" in words and "ឃុំ" in words


@pytest.mark.parametrize(
    "whole",
    [
        "https://www.facebook.com/commune.office/posts/123",
        "sok.dara@example.org",
        "@SokDara",
        "#សុខភាព",
        "012 345 678",
        "+855 12 345 678",
        "០៩៧ ៧៧៧ ៨៨៨",
        "12.5%",
        "covid19",
        "👍🏽",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    ],
)
def test_non_khmer_pieces_stay_whole(whole: str) -> None:
    tokens = segment(f"សូមទាក់ទង {whole} អរគុណ")
    assert whole in tokens


def test_date_is_not_a_phone_number() -> None:
    tokens = segment("ថ្ងៃ 2024 12 05")
    assert "2024" in tokens and "12" in tokens and "05" in tokens


def test_whitespace_is_dropped_and_nothing_else_lost() -> None:
    text = "សាលារៀន  ok!  ៕"
    tokens = segment(text)
    assert all(t.strip() == t and t for t in tokens)
    assert "".join(tokens) == normalize(text).replace(" ", "")


def test_zero_width_space_is_normalised_away() -> None:
    assert segment("សាលា\u200bរៀន") == segment("សាលារៀន")


def test_empty_and_type_errors() -> None:
    assert segment("") == []
    assert segment("   \u200b ") == []
    with pytest.raises(TypeError):
        segment(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        segment(5, normalize_first=False)  # type: ignore[arg-type]


def test_batch_equals_single() -> None:
    texts = ["មណ្ឌលសុខភាពបិទទ្វារ", "", "hello world", "គ្រូបង្រៀនមិនមក"]
    assert segment_batch(texts) == [segment(t) for t in texts]


def test_shared_between_threads() -> None:
    seg = Segmenter()
    texts = [f"សិស្សសាលាបឋមសិក្សាលេខ{i} ត្រូវការគ្រូបន្ថែម" for i in range(60)]
    serial = [seg.segment(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(seg.segment, texts))
    assert threaded == serial


def test_model_bytes_come_from_khmer_nltk_file() -> None:
    data = read_crfsuite_bytes(default_model_path())
    assert len(data) > 1_000_000


def test_refuses_a_pickle_that_would_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # noqa: D105
            return (print, ("this must not run",))

    bad = tmp_path / "evil.sav"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(SegmenterModelError, match="refusing"):
        read_crfsuite_bytes(bad)


def test_clear_errors_for_missing_or_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(SegmenterModelError, match="cannot read"):
        read_crfsuite_bytes(tmp_path / "nope.sav")
    junk = tmp_path / "junk.sav"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(SegmenterModelError):
        read_crfsuite_bytes(junk)
    seg = Segmenter(model_path=tmp_path / "nope.sav")
    with pytest.raises(SegmenterModelError):
        seg.segment("សាលារៀនថ្មី")
