"""CivicClassifier.predict / predict_proba on the tiny model built by tests/tiny_model.py."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_model import build_tiny_model, rewrite_config

from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.manifest import verify_manifest
from khmer_civic.schema import LabelStatus, ModelSchema, Prediction, TaskSpec, default_schema

TEXTS = [
    "សាលារៀនភូមិយើងខ្វះគ្រូបង្រៀន",
    "មណ្ឌលសុខភាពឃុំយើងគ្មានថ្នាំ",
    "សូមចូលរួមប្រជុំនៅសាលាឃុំថ្ងៃស្អែក",
    "អរគុណលោកគ្រូពេទ្យ",
    "the commune office fixed the road, thank you",
    "ក្រុមប្រឹក្សាឃុំ",
    "ok",
]
LONG_TEXT = (
    "សាលារៀនភូមិយើងខ្វះគ្រូបង្រៀន ហើយសិស្សជាច្រើនឈប់រៀន។ មណ្ឌលសុខភាពក៏គ្មានថ្នាំ។ "
    "សូមលោកមេឃុំជួយដោះស្រាយផ្លូវនិងលូទឹកផង please help"
)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_task(model_dir: Path, task_name: str, **changes: Any) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    for task in config["tasks"]:
        if task["name"] == task_name:
            task.update(changes)
    rewrite_config(model_dir, tasks=config["tasks"])


def _assert_scores_close(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for task in a:
        assert a[task].keys() == b[task].keys()
        for label in a[task]:
            assert a[task][label] == pytest.approx(b[task][label], abs=tol), (task, label)


# ------------------------------------------------------------------ shapes of results


def test_single_str_gives_single_prediction(clf: CivicClassifier) -> None:
    pred = clf.predict(TEXTS[0])
    assert isinstance(pred, Prediction)
    assert pred.ok and pred.status is LabelStatus.OK
    assert set(pred.labels) == {"topics", "sentiment", "call_to_action"}
    assert isinstance(pred.topics, list) and set(pred.topics) <= {"education", "health", "local_administration"}
    assert pred.sentiment in {"negative", "neutral", "positive"}
    assert isinstance(pred.call_to_action, bool)
    json.dumps(pred.to_dict())  # JSON-ready: plain floats, bools and strings


def test_list_and_iterables_give_lists(clf: CivicClassifier) -> None:
    preds = clf.predict(TEXTS)
    assert isinstance(preds, list) and len(preds) == len(TEXTS)
    from_generator = clf.predict(t for t in TEXTS)
    from_tuple = clf.predict(tuple(TEXTS))
    from_array = clf.predict(np.array(TEXTS))
    for other in (from_generator, from_tuple, from_array):
        assert [p.to_dict() for p in other] == [p.to_dict() for p in preds]
    assert clf.predict([]) == []
    assert clf.predict_proba([]) == []


@pytest.mark.parametrize("bad", [None, 42, b"bytes", {"text": "x"}])
def test_top_level_non_text_argument_is_a_type_error(clf: CivicClassifier, bad: object) -> None:
    with pytest.raises(TypeError):
        clf.predict(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_bad_batch_size_is_rejected(clf: CivicClassifier, batch_size: Any) -> None:
    with pytest.raises(ValueError):
        clf.predict(TEXTS, batch_size=batch_size)


def test_bad_inputs_keep_length_and_order(clf: CivicClassifier) -> None:
    mixed: list[object] = [
        TEXTS[0], None, float("nan"), TEXTS[1], 7, b"\xe1\x9e\x9f", "", "  \u200b ", "😀😀", "123-456",
        TEXTS[2], True, ["nested"], LONG_TEXT,
    ]
    expected = [
        LabelStatus.OK, LabelStatus.EMPTY, LabelStatus.EMPTY, LabelStatus.OK, LabelStatus.NOT_TEXT,
        LabelStatus.NOT_TEXT, LabelStatus.EMPTY, LabelStatus.EMPTY, LabelStatus.NO_LETTERS,
        LabelStatus.NO_LETTERS, LabelStatus.OK, LabelStatus.NOT_TEXT, LabelStatus.NOT_TEXT, LabelStatus.OK,
    ]
    preds = clf.predict(mixed, batch_size=3)
    probas = clf.predict_proba(mixed, batch_size=3)
    assert [p.status for p in preds] == expected
    assert len(probas) == len(mixed)
    for value, pred, proba in zip(mixed, preds, probas):
        if pred.ok:
            # each good row carries the scores of its own text, not a neighbour's
            _assert_scores_close(pred.scores, clf.predict(value).scores)  # type: ignore[arg-type]
            _assert_scores_close(proba, pred.scores, tol=0)
        else:
            assert pred.labels == {"topics": None, "sentiment": None, "call_to_action": None}
            assert pred.scores == {} and proba == {}
            assert pred.topics is None and pred.sentiment is None and pred.call_to_action is None


# ------------------------------------------------------------------ probabilities and decisions


def test_predict_proba_ranges_and_sums(clf: CivicClassifier) -> None:
    for scores in clf.predict_proba([*TEXTS, LONG_TEXT]):
        assert set(scores["topics"]) == {"education", "health", "local_administration"}
        assert all(0.0 <= p <= 1.0 for task in scores.values() for p in task.values())
        assert math.fsum(scores["sentiment"].values()) == pytest.approx(1.0, abs=1e-9)
        assert scores["call_to_action"]["false"] + scores["call_to_action"]["true"] == pytest.approx(1.0, abs=1e-12)


def test_decisions_follow_the_probabilities(clf: CivicClassifier) -> None:
    for pred in clf.predict([*TEXTS, LONG_TEXT]):
        topics = pred.scores["topics"]
        assert pred.topics == [label for label in clf.labels["topics"] if topics[label] >= 0.5]
        assert pred.sentiment == max(pred.scores["sentiment"], key=pred.scores["sentiment"].get)
        assert pred.call_to_action == (pred.scores["call_to_action"]["true"] >= 0.5)


def test_the_tiny_model_is_not_constant(clf: CivicClassifier) -> None:
    # guards the other tests: a model giving every text the same scores would prove nothing
    scores = [s["topics"]["health"] for s in clf.predict_proba(TEXTS)]
    assert max(scores) - min(scores) > 0.05


def test_thresholds_from_config_change_decisions(clf: CivicClassifier, tiny_model_dir: Path, tmp_path: Path) -> None:
    text = TEXTS[1]
    scores = clf.predict(text).scores
    p_health = scores["topics"]["health"]
    p_cta = scores["call_to_action"]["true"]
    thresholds = {"education": 0.5, "health": p_health, "local_administration": 0.5}

    at = _copy(tiny_model_dir, tmp_path / "at")
    _edit_task(at, "topics", thresholds=thresholds)
    _edit_task(at, "call_to_action", threshold=p_cta)
    pred = CivicClassifier.load(at).predict(text)
    assert "health" in pred.topics and pred.call_to_action is True  # "reaches the threshold" includes equality

    above = _copy(tiny_model_dir, tmp_path / "above")
    _edit_task(above, "topics", thresholds={**thresholds, "health": min(p_health + 1e-3, 1.0)})
    _edit_task(above, "call_to_action", threshold=min(p_cta + 1e-3, 1.0))
    pred = CivicClassifier.load(above).predict(text)
    assert "health" not in pred.topics and pred.call_to_action is False
    _assert_scores_close(pred.scores, scores, tol=0)  # thresholds move decisions, never scores


def test_temperature_from_config_scales_logits(clf: CivicClassifier, tiny_model_dir: Path, tmp_path: Path) -> None:
    text = "សូមជួយគ្រូ"  # one window, so the softmax identity below holds exactly
    assert len(clf._runner.windows([text])[0]) == 1
    before = clf.predict_proba(text)
    hot = _copy(tiny_model_dir, tmp_path / "hot")
    _edit_task(hot, "topics", temperature=2.0)
    _edit_task(hot, "sentiment", temperature=2.0)
    after = CivicClassifier.load(hot).predict_proba(text)
    for label, p in before["topics"].items():
        logit = math.log(p / (1 - p))
        assert after["topics"][label] == pytest.approx(1 / (1 + math.exp(-logit / 2)), abs=1e-6)
    # softmax(z / 2) is proportional to sqrt(softmax(z))
    roots = {label: math.sqrt(p) for label, p in before["sentiment"].items()}
    total = sum(roots.values())
    for label, root in roots.items():
        assert after["sentiment"][label] == pytest.approx(root / total, abs=1e-6)
    assert after["call_to_action"] == pytest.approx(before["call_to_action"], abs=1e-9)


# ------------------------------------------------------------------ batching, padding, windows


def test_padding_and_batching_do_not_change_scores(clf: CivicClassifier) -> None:
    short = "គ្រូ"
    alone = clf.predict_proba(short, batch_size=1)
    batch = [TEXTS[0], short, LONG_TEXT, TEXTS[4], short]
    for batch_size in (1, 2, 64):
        results = clf.predict_proba(batch, batch_size=batch_size)
        _assert_scores_close(results[1], alone)
        _assert_scores_close(results[4], alone)


class _RecordingSession:
    """Wraps an InferenceSession and records the shape of every input batch."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.shapes: list[tuple[int, ...]] = []

    def run(self, output_names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.shapes.append(feeds["input_ids"].shape)
        assert feeds["attention_mask"].shape == feeds["input_ids"].shape
        return self._session.run(output_names, feeds)


def test_long_text_is_scored_by_windows_and_aggregated(clf: CivicClassifier) -> None:
    runner = clf._runner
    cfg = clf.config
    windows, owners = runner.windows([LONG_TEXT])
    n_tokens = len(runner.tokenizer.encode([LONG_TEXT])[0])
    assert n_tokens > cfg.max_length  # the fixture text really is long
    assert len(windows) >= 3 and set(owners.tolist()) == {0}
    assert all(len(w) <= cfg.max_length and w[0] == cfg.bos_token_id and w[-1] == cfg.eos_token_id for w in windows)

    recorder = _RecordingSession(runner.session)
    recording_runner = dataclasses.replace(runner, session=recorder)
    probs = recording_runner.probabilities([LONG_TEXT], batch_size=2)
    assert sum(shape[0] for shape in recorder.shapes) == len(windows)
    assert max(shape[1] for shape in recorder.shapes) <= cfg.max_length

    # the text's scores are the documented fold of its windows' scores
    logits = runner.window_logits(windows, batch_size=8)
    lengths = np.array([len(w) - 2 for w in windows], dtype=float)
    for task in clf.schema.tasks:
        z = logits[task.output] / task.temperature
        if task.type == "single_label":
            window_p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            expected = (window_p * lengths[:, None]).sum(axis=0) / lengths.sum()
        else:
            expected = (1 / (1 + np.exp(-z))).max(axis=0)
        np.testing.assert_allclose(probs[task.name][0], expected, atol=1e-6)  # float32 sums vary with padding

    # not truncation: scoring only the first window gives something else
    first_window_only = runner.window_logits(windows[:1], batch_size=1)
    assert not np.allclose(first_window_only["topics"][0], logits["topics"].max(axis=0))

    # deterministic, and independent of the batch it comes in
    a = clf.predict_proba(LONG_TEXT)
    b = clf.predict_proba([TEXTS[0], LONG_TEXT, TEXTS[1]], batch_size=3)[1]
    _assert_scores_close(a, clf.predict_proba(LONG_TEXT), tol=0)
    _assert_scores_close(a, b)


def test_tokenizer_file_truncation_and_special_tokens_are_ignored(clf: CivicClassifier) -> None:
    # tiny tokenizer.json enables truncation at 8 tokens and a <s> $A </s> post-processor
    ids = clf._runner.tokenizer.encode([LONG_TEXT])[0]
    assert len(ids) > 8
    assert 0 not in ids and 2 not in ids and 1 not in ids


# ------------------------------------------------------------------ schema-driven tasks


def test_extra_label_and_extra_task_are_served_without_code_change(tmp_path: Path) -> None:
    base = default_schema()
    schema = ModelSchema(
        tasks=(
            TaskSpec("topics", "multi_label", (*base["topics"].labels, "agriculture"), "topics",
                     thresholds={"agriculture": 0.3}),
            base["sentiment"],
            base["call_to_action"],
            TaskSpec("names_official", "binary", ("false", "true"), "names_official_logit", threshold=0.4),
        )
    )
    clf = CivicClassifier.load(build_tiny_model(tmp_path / "wide", tasks=schema, seed=3))
    assert clf.labels["topics"][-1] == "agriculture"
    assert "names_official" in clf.labels
    for pred in clf.predict(TEXTS):
        assert set(pred.labels) == {"topics", "sentiment", "call_to_action", "names_official"}
        assert set(pred.scores["topics"]) == {"education", "health", "local_administration", "agriculture"}
        assert ("agriculture" in pred.topics) == (pred.scores["topics"]["agriculture"] >= 0.3)
        assert pred.labels["names_official"] == (pred.scores["names_official"]["true"] >= 0.4)
    assert clf.info()["thresholds"]["names_official"] == 0.4


def test_a_model_with_a_single_task(tmp_path: Path) -> None:
    schema = ModelSchema(tasks=(default_schema()["sentiment"],))
    clf = CivicClassifier.load(build_tiny_model(tmp_path / "one", tasks=schema))
    pred = clf.predict(TEXTS[0])
    assert set(pred.labels) == {"sentiment"}
    assert pred.topics is None  # absent task reads as None through the convenience properties


def test_int8_quantised_graph_loads_and_agrees_with_fp32(clf: CivicClassifier, tmp_path: Path) -> None:
    quantised = CivicClassifier.load(build_tiny_model(tmp_path / "int8", quantize=True))
    for a, b in zip(clf.predict_proba(TEXTS), quantised.predict_proba(TEXTS)):
        _assert_scores_close(a, b, tol=0.05)


# ------------------------------------------------------------------ threads


def test_one_classifier_shared_between_threads_equals_serial(clf: CivicClassifier) -> None:
    texts = [*TEXTS, LONG_TEXT, None, "😀"] * 6
    chunks = [texts[i : i + 5] for i in range(0, len(texts), 5)]
    serial = [clf.predict_proba(chunk, batch_size=4) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda chunk: clf.predict_proba(chunk, batch_size=4), chunks))
            assert len(parallel) == len(serial)
            for got_chunk, want_chunk in zip(parallel, serial):
                for got, want in zip(got_chunk, want_chunk):
                    _assert_scores_close(got, want, tol=1e-9)


# ------------------------------------------------------------------ description and saving


def test_info_labels_and_repr(clf: CivicClassifier) -> None:
    info = clf.info()
    assert info["name"] == "tiny-civic" and info["version"] == "0.0.1"
    assert [t["name"] for t in info["tasks"]] == ["topics", "sentiment", "call_to_action"]
    assert info["thresholds"] == {
        "topics": {"education": 0.5, "health": 0.5, "local_administration": 0.5},
        "call_to_action": 0.5,
    }
    assert info["metrics"]["tasks"]["sentiment"] == {"macro_f1": 0.0}
    assert info["providers"] == ["CPUExecutionProvider"]
    json.dumps(info)
    assert clf.labels == {
        "topics": ["education", "health", "local_administration"],
        "sentiment": ["negative", "neutral", "positive"],
        "call_to_action": ["false", "true"],
    }
    assert clf.schema.task_names == ["topics", "sentiment", "call_to_action"]
    assert "tiny-civic" in repr(clf) and "sentiment:single_label" in repr(clf)


def test_metrics_are_optional(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = _copy(tiny_model_dir, tmp_path / "nometrics")
    (copy / "metrics.json").unlink()
    rewrite_config(copy)  # fresh manifest without metrics.json
    assert CivicClassifier.load(copy).info()["metrics"] is None


def test_save_copies_the_model_with_a_fresh_manifest(clf: CivicClassifier, tmp_path: Path) -> None:
    target = clf.save(tmp_path / "saved")
    listed = verify_manifest(target)
    assert {"model.onnx", "tokenizer.json", "config.json", "metrics.json", "MODEL_CARD.md"} <= set(listed)
    again = CivicClassifier.load(target)
    for a, b in zip(clf.predict_proba(TEXTS), again.predict_proba(TEXTS)):
        _assert_scores_close(a, b, tol=0)
    with pytest.raises(FileExistsError):
        clf.save(target)
    (tmp_path / "empty").mkdir()
    assert CivicClassifier.load(clf.save(tmp_path / "empty")).config == clf.config
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_save_refuses_files_changed_since_load(tiny_model_dir: Path, tmp_path: Path) -> None:
    source = _copy(tiny_model_dir, tmp_path / "source")
    loaded = CivicClassifier.load(source)
    with open(source / "MODEL_CARD.md", "a", encoding="utf-8") as card:
        card.write("edited after loading\n")
    from khmer_civic.model.manifest import ManifestError

    with pytest.raises(ManifestError, match="changed on disk"):
        loaded.save(tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
