"""Same text, same scores: a row's scores must not depend on its batch, its neighbours or their order.

The tiny int8 model is quantised like the shipped one (onnxruntime's dynamic quantisation: one
activation scale per call), so scoring it in padded batches *does* move a row's scores; the
tests first show that, then that the default ``per_window`` batching removes it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_model import build_tiny_model, rewrite_config

from khmer_civic.cli import cli
from khmer_civic.model.classifier import CivicClassifier
from khmer_civic.model.config import ConfigFormatError, load_config

TOLERANCE = 1e-6

# Short and long texts: with max_length 16 the long ones span several windows.
TEXTS = [
    "សាលារៀនភូមិយើងខ្វះគ្រូ",
    "សូមជួយចែករំលែក",
    "មន្ទីរពេទ្យ បិទ ថ្ងៃនេះ",
    "ឃុំ ជួសជុល ផ្លូវ ភូមិ ខាងជើង ហើយ ប្រជាពលរដ្ឋ សប្បាយចិត្ត ណាស់ ព្រោះ ផ្លូវ ល្អ",
    "please share, the school needs teachers",
    "health centre closed again",
    "គ្រូ",
    "ok",
    "សាលារៀន " * 12,
    "ការប្រជុំ ឃុំ នៅ ថ្ងៃ ស្អែក សូម អញ្ជើញ ចូលរួម",
    "mixed ខ្មែរ and English សាលារៀន school",
    "ល្អ",
]


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("int8") / "tiny-int8", quantize=True)


@pytest.fixture(scope="module")
def int8_padded_dir(int8_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("int8-padded") / "tiny-int8-padded"
    shutil.copytree(int8_dir, target)
    return rewrite_config(target, batching="padded")


@pytest.fixture(scope="module")
def fp32_padded_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fp32") / "tiny-fp32"
    shutil.copytree(tiny_model_dir, target)  # the session's fp32 tiny model, not built again
    return rewrite_config(target, batching="padded")


def score_matrix(clf: CivicClassifier, texts: list[str], batch_size: int) -> np.ndarray:
    """Every score of every text, one row per text."""
    rows = clf.predict_proba(texts, batch_size=batch_size)
    return np.array([[value for task in row.values() for value in task.values()] for row in rows])


def one_at_a_time(clf: CivicClassifier, texts: list[str]) -> np.ndarray:
    return np.array([[v for task in clf.predict_proba(t).values() for v in task.values()] for t in texts])


def test_padded_batches_of_a_dynamic_int8_graph_do_move_scores(int8_padded_dir: Path) -> None:
    # The defect this module guards against, reproduced: without per-window batching the same
    # text gets other scores in another batch. If this ever stops failing, the tiny model no
    # longer exercises dynamic quantisation and the tests below prove nothing.
    clf = CivicClassifier.load(int8_padded_dir, intra_op_threads=1)
    batched = score_matrix(clf, TEXTS, batch_size=32)
    alone = one_at_a_time(clf, TEXTS)
    assert np.abs(batched - alone).max() > 1e-4


def test_the_default_batching_is_per_window(int8_dir: Path) -> None:
    assert load_config(int8_dir).batching == "per_window"


def test_unknown_batching_is_refused(int8_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "bad"
    shutil.copytree(int8_dir, target)
    rewrite_config(target, batching="sometimes")
    with pytest.raises(ConfigFormatError, match="batching"):
        CivicClassifier.load(target)


@pytest.mark.parametrize("model", ["int8_dir", "fp32_padded_dir"])
def test_batch_size_order_and_neighbours_do_not_change_scores(model: str, request: pytest.FixtureRequest) -> None:
    clf = CivicClassifier.load(request.getfixturevalue(model), intra_op_threads=1)
    reference = one_at_a_time(clf, TEXTS)
    for batch_size in (1, 7, 32):
        assert np.abs(score_matrix(clf, TEXTS, batch_size) - reference).max() <= TOLERANCE
    reversed_scores = score_matrix(clf, TEXTS[::-1], 32)[::-1]
    assert np.abs(reversed_scores - reference).max() <= TOLERANCE
    # the same text among other neighbours (here: many copies of a long post)
    crowded = score_matrix(clf, ["សាលារៀន " * 12] * 20 + TEXTS[:1], 32)[-1]
    assert np.abs(crowded - reference[0]).max() <= TOLERANCE


@pytest.mark.parametrize("model", ["int8_dir", "fp32_padded_dir"])
def test_thread_count_does_not_change_scores(model: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(model)
    one = score_matrix(CivicClassifier.load(path, intra_op_threads=1), TEXTS, 32)
    for threads in (2, 4):
        many = score_matrix(CivicClassifier.load(path, intra_op_threads=threads), TEXTS * 3, 32)
        assert np.abs(np.vstack([one] * 3) - many).max() <= TOLERANCE


def test_threads_score_whole_windows_side_by_side(int8_dir: Path, fp32_padded_dir: Path) -> None:
    # per_window models run several windows at once, each on one onnxruntime thread; padded models
    # give the threads to onnxruntime instead.
    assert CivicClassifier.load(int8_dir, intra_op_threads=3)._runner.parallel == 3
    assert CivicClassifier.load(int8_dir, intra_op_threads=1)._runner.parallel == 1
    assert CivicClassifier.load(int8_dir)._runner.parallel >= 1
    assert CivicClassifier.load(fp32_padded_dir, intra_op_threads=3)._runner.parallel == 1
    with pytest.raises(ValueError, match="intra_op_threads"):
        CivicClassifier.load(int8_dir, intra_op_threads=-1)


@pytest.fixture(scope="module")
def int8_classifier(int8_dir: Path) -> CivicClassifier:
    return CivicClassifier.load(int8_dir, intra_op_threads=1)


@pytest.fixture(scope="module")
def int8_reference(int8_classifier: CivicClassifier) -> np.ndarray:
    return one_at_a_time(int8_classifier, TEXTS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.integers(0, len(TEXTS) - 1), min_size=1, max_size=40),
    batch_size=st.integers(1, 40),
)
def test_property_shuffled_and_rebatched_texts_keep_their_scores(
    int8_classifier: CivicClassifier, int8_reference: np.ndarray, picks: list[int], batch_size: int
) -> None:
    # Any selection, repetition and order of the texts, in any batch size: each row equals the
    # score of its text scored alone.
    scores = score_matrix(int8_classifier, [TEXTS[i] for i in picks], batch_size)
    assert np.abs(scores - int8_reference[picks]).max() <= TOLERANCE


def test_label_output_does_not_depend_on_chunk_size_or_workers(int8_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n" + "".join(f"{i},{TEXTS[i % len(TEXTS)]}\n" for i in range(60)), encoding="utf-8")
    outputs = []
    for chunk_size, workers in ((3, 1), (1000, 1), (7, 2)):
        out = tmp_path / f"out-{chunk_size}-{workers}.csv"
        result = CliRunner().invoke(
            cli,
            ["label", str(source), "-o", str(out), "--model", str(int8_dir), "--chunk-size", str(chunk_size),
             "--workers", str(workers), "--no-progress", "-q"],
        )
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
