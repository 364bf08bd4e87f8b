"""Labels written as text (khmer_civic.schema): the one reader training data, reports and label output share."""

from __future__ import annotations

import pytest

from khmer_civic.schema import LABEL_SEPARATOR, bool_from_text, labels_from_text


def test_multi_label_text_round_trips_and_skips_blank_parts() -> None:
    labels = ["education", "local_administration"]
    assert labels_from_text(LABEL_SEPARATOR.join(labels)) == labels
    assert labels_from_text(" health ; ;education;") == ["health", "education"]
    assert labels_from_text("") == [] and labels_from_text(" ; ") == []


@pytest.mark.parametrize(("text", "value"), [("true", True), (" YES ", True), ("1", True), ("t", True),
                                             ("False", False), ("no", False), ("0", False), ("n", False)])  # fmt: skip
def test_binary_text(text: str, value: bool) -> None:
    assert bool_from_text(text) is value


@pytest.mark.parametrize("text", ["", "maybe", "2", "truth", "នៅ"])
def test_anything_else_is_not_a_binary_value(text: str) -> None:
    assert bool_from_text(text) is None
