"""CivicClassifier.explain and khmer_civic.model.explain on a tiny model where one word decides the labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from trigger_model import TRIGGER_WORD, build_trigger_model

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.explain import (
    Explanation,
    PushingWordCounts,
    UnexplainableTextError,
    WordContribution,
    occlude,
    word_spans,
    without_span,
)
from khmer_civic.schema import LabelStatus, default_schema

TEXT = "សូមជួយ health ផង please"  # words: សូម ជួយ health ផង please


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> CivicClassifier:
    return CivicClassifier.load(build_trigger_model(tmp_path_factory.mktemp("trigger") / "model"))


def _by_word(e: Explanation) -> dict[str, float]:
    return {w.word: w.contribution for w in e.words}


@pytest.mark.parametrize(
    ("task", "label"), [("topics", "health"), ("sentiment", "positive"), ("call_to_action", "true")]
)
def test_the_deciding_word_comes_first_for_every_task_type(clf: CivicClassifier, task: str, label: str) -> None:
    e = clf.explain(TEXT, task)
    assert (e.task, e.label, e.predicted) == (task, label, True)  # the default label is the predicted one
    assert [w.word for w in e.words] == ["សូម", "ជួយ", TRIGGER_WORD, "ផង", "please"]
    assert e.top(1)[0].word == TRIGGER_WORD
    contributions = _by_word(e)
    assert contributions[TRIGGER_WORD] > 0.9
    assert all(abs(c) < 1e-6 for word, c in contributions.items() if word != TRIGGER_WORD)
    assert e.probability == pytest.approx(clf.predict_proba(TEXT)[task][label], abs=1e-9)


def test_contribution_is_full_minus_without_the_word(clf: CivicClassifier) -> None:
    e = clf.explain(TEXT, "sentiment", "positive")
    without = clf.predict_proba("សូមជួយ ផង please")["sentiment"]["positive"]
    assert _by_word(e)[TRIGGER_WORD] == pytest.approx(e.probability - without, abs=1e-9)


def test_signs_across_labels(clf: CivicClassifier) -> None:
    # binary: "false" mirrors "true"; single_label: a word's contributions over the labels sum to 0
    true, false = clf.explain(TEXT, "call_to_action", "true"), clf.explain(TEXT, "call_to_action", "false")
    assert false.probability == pytest.approx(1 - true.probability)
    for t, f in zip(true.words, false.words):
        assert f.contribution == pytest.approx(-t.contribution, abs=1e-12)
    per_label = [clf.explain(TEXT, "sentiment", lab) for lab in ("negative", "neutral", "positive")]
    for i in range(len(per_label[0].words)):
        assert sum(e.words[i].contribution for e in per_label) == pytest.approx(0.0, abs=1e-9)
    assert _by_word(per_label[0])[TRIGGER_WORD] < -0.8  # the trigger pushes away from "negative"


def test_default_labels_without_the_deciding_word(clf: CivicClassifier) -> None:
    topics = clf.explain("សូមជួយ please", "topics")
    assert (topics.label, topics.predicted) == ("health", False)  # none predicted: the most probable
    assert clf.explain("សូមជួយ please", "call_to_action").label == "false"
    assert clf.explain("សូមជួយ please", "sentiment").label == "negative"


def test_long_text_is_explained_by_windows(clf: CivicClassifier) -> None:
    text = " ".join(["please"] * 30 + [TRIGGER_WORD])  # 31 tokens: three 14-token windows
    windows, _ = clf._runner.windows([text])
    assert len(windows) > 1
    e = clf.explain(text, "topics", "health")
    assert e.top(1)[0].word == TRIGGER_WORD and e.top(1)[0].start == len(text) - len(TRIGGER_WORD)
    assert e.probability > 0.99 and len(e.words) == 31


def test_bad_task_label_and_text(clf: CivicClassifier) -> None:
    with pytest.raises(ValueError, match="unknown task 'mood'; this model's tasks: topics, sentiment"):
        clf.explain(TEXT, "mood")
    with pytest.raises(ValueError, match="has no label 'angry'; its labels: negative, neutral, positive"):
        clf.explain(TEXT, "sentiment", "angry")
    for value, status in [("", LabelStatus.EMPTY), ("😀 123", LabelStatus.NO_LETTERS), (None, LabelStatus.EMPTY)]:
        with pytest.raises(UnexplainableTextError) as info:
            clf.explain(value, "topics")
        assert info.value.status is status and "\n" not in str(info.value)


# ------------------------------------------------------------------------------ variants


def test_variants_join_words_as_the_normaliser_reads_them() -> None:
    khmer = "សាលារៀនល្អ"  # two Khmer words written together
    assert without_span(khmer, 0, 7) == "ល្អ" and without_span(khmer, 7, 10) == "សាលារៀន"
    joined = "សូមជួយសាលារៀនផង"
    assert without_span(joined, 3, 6) == "សូមសាលារៀនផង"  # no space where the text had none
    spaced = "សូម ជួយ health ផង"
    assert without_span(spaced, 4, 7) == "សូម health ផង"  # one space kept between neighbours
    assert without_span(spaced, 0, 3) == "ជួយ health ផង"  # no space left at either end
    assert without_span(spaced, 15, 17) == "សូម ជួយ health"
    assert word_spans(spaced, ["សូម", "ជួយ", "health", "ផង"]) == [
        ("សូម", 0, 3), ("ជួយ", 4, 7), ("health", 8, 14), ("ផង", 15, 17)
    ]  # fmt: skip


class RecordingRunner:
    """Stands in for WindowedRunner: records every call, returns one probability per task from the text length."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def probabilities(self, texts: list[str], batch_size: int = 32) -> dict[str, Any]:
        self.calls.append(list(texts))
        p = np.asarray([[len(t) / 100.0] for t in texts])
        return {t.name: np.repeat(p, t.n_outputs, axis=1) for t in default_schema().tasks}


def test_all_variants_in_one_call_duplicates_once() -> None:
    runner = RecordingRunner()
    occlusion = occlude(runner, "  please please\u200b health ")  # type: ignore[arg-type]
    assert len(runner.calls) == 1
    assert runner.calls[0] == ["please please health", "please health", "please please"]  # full, distinct variants
    assert [w for w, _, _ in occlusion.spans] == ["please", "please", "health"]
    assert occlusion.without["sentiment"].shape == (3, 3)
    np.testing.assert_allclose(occlusion.without["sentiment"][:2, 0], 0.13)


def test_one_word_text_is_compared_with_the_empty_text() -> None:
    runner = RecordingRunner()
    occlusion = occlude(runner, "health")  # type: ignore[arg-type]
    assert runner.calls == [["health", ""]]
    assert occlusion.without["topics"][0, 0] == 0.0


# ------------------------------------------------------------------------------ counts across texts


def _explanation(label: str, contributions: list[tuple[str, float]]) -> Explanation:
    words = tuple(WordContribution(w, 0, len(w), c) for w, c in contributions)
    return Explanation("sentiment", label, 0.9, True, " ".join(w for w, _ in contributions), words)


def test_counts_take_each_texts_top_three_positive_words() -> None:
    counts = PushingWordCounts()
    counts.add(_explanation("negative", [("a", 0.5), ("b", 0.4), ("c", 0.3), ("d", 0.2), ("e", -0.9)]))
    counts.add(_explanation("negative", [("a", 0.1), ("a", 0.3), ("e", -0.5), ("d", 0.05)]))
    counts.add(_explanation("positive", [("a", 0.2)]))
    table = counts.table(top=10)
    negative = [(r.word, r.texts, round(r.mean_contribution, 6), r.share) for r in table if r.label == "negative"]
    # "a" in both texts (its larger contribution in the second), "d" only where it made the top 3, never "e"
    assert negative == [("a", 2, 0.4, 1.0), ("b", 1, 0.4, 0.5), ("c", 1, 0.3, 0.5), ("d", 1, 0.05, 0.5)]
    assert [r.rank for r in table if r.label == "negative"] == [1, 2, 3, 4]
    assert [(r.word, r.texts) for r in table if r.label == "positive"] == [("a", 1)]
    assert [r.word for r in counts.table(top=2)] == ["a", "b", "a"]


def test_pushing_words_over_texts(clf: CivicClassifier) -> None:
    texts = [TEXT, "health please", "please សូម", None, "😀", f"ផង {TRIGGER_WORD}"]
    seen: list[int] = []
    run = clf.pushing_words(texts, task="topics", label="health", advance=seen.append)
    assert (run.rows, run.explained_rows, run.not_matching) == (6, 3, 1)
    assert run.skipped == {"empty": 1, "no_letters": 1} and sum(seen) == 6
    table = run.counts.table(5)
    assert [(r.label, r.word, r.texts) for r in table] == [("health", TRIGGER_WORD, 3)]
    everything = clf.pushing_words(texts)
    assert {(r.task, r.label) for r in everything.counts.table(5)} >= {("sentiment", "positive"), ("topics", "health")}
    with pytest.raises(ValueError, match="needs its task"):
        clf.pushing_words(texts, label="health")


def test_explain_all_gives_every_tasks_default_label(clf: CivicClassifier) -> None:
    assert clf.explain_all(TEXT) == [clf.explain(TEXT, t) for t in ("topics", "sentiment", "call_to_action")]


def test_a_dependent_task_is_predicted_only_where_its_parent_decision_holds() -> None:
    from khmer_civic.model.explain import text_predictions
    from khmer_civic.schema import ModelSchema

    schema = ModelSchema.from_list(
        [
            {"name": "call_to_action", "type": "binary", "labels": ["false", "true"], "threshold": 0.5},
            {"name": "cta_type", "type": "multi_label", "labels": ["engage", "comply"],
             "thresholds": {"engage": 0.5, "comply": 0.5}, "given": {"task": "call_to_action", "label": "true"}},
        ]
    )
    no_cta = text_predictions(schema, {"call_to_action": np.array([0.2]), "cta_type": np.array([0.9, 0.3])})
    assert no_cta == {"call_to_action": ["false"], "cta_type": []}
    cta = text_predictions(schema, {"call_to_action": np.array([0.8]), "cta_type": np.array([0.2, 0.4])})
    assert cta == {"call_to_action": ["true"], "cta_type": ["comply"]}  # at least the most probable type
