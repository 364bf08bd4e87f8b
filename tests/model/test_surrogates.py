"""predict() on text holding a lone surrogate (issue 20): a status, never a TypeError."""

from __future__ import annotations

import pytest

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.inputs import prepare_input
from khmer_civic.schema import LabelStatus

BAD = ["សាលារៀន \ud83d", "\udc00", "half \ud800 of an emoji", "\ud83d\ude00 two halves are still two"]


@pytest.mark.parametrize("text", BAD)
def test_prepare_input_flags_lone_surrogates(text: str) -> None:
    assert prepare_input(text) == (LabelStatus.UNDECODABLE, "")


def test_status_value_is_the_tables_one() -> None:
    assert LabelStatus.UNDECODABLE.value == "undecodable_text"


@pytest.mark.parametrize("text", BAD)
def test_predict_one_text_with_a_lone_surrogate(clf: CivicClassifier, text: str) -> None:
    prediction = clf.predict(text)
    assert prediction.status is LabelStatus.UNDECODABLE and not prediction.ok
    assert all(value is None for value in prediction.labels.values()) and prediction.scores == {}
    assert prediction.to_dict()["status"] == "undecodable_text"


def test_a_lone_surrogate_in_a_batch_shifts_nothing(clf: CivicClassifier) -> None:
    texts = ["សាលារៀនភូមិយើងខ្វះគ្រូ", BAD[0], "មណ្ឌលសុខភាពឃុំយើងគ្មានថ្នាំ", BAD[1]]
    predictions = clf.predict(texts, batch_size=2)
    assert [p.status for p in predictions] == [
        LabelStatus.OK, LabelStatus.UNDECODABLE, LabelStatus.OK, LabelStatus.UNDECODABLE
    ]
    alone = clf.predict(texts[2])
    assert predictions[2].scores["sentiment"] == pytest.approx(alone.scores["sentiment"], abs=1e-5)
    assert clf.predict_proba(texts)[1] == {}
