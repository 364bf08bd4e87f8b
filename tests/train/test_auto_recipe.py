"""The small-data rule (khmer_civic.train.auto), early stopping's minimum and the frozen-encoder head."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from train_fixtures import make_records, tiny_config

from khmer_civic.schema import ModelSchema, TaskSpec
from khmer_civic.train.auto import (
    AUTO,
    AUTO_FIELDS,
    DataProfile,
    auto_epochs,
    resolve_auto,
)
from khmer_civic.train.config import TrainConfig
from khmer_civic.train.data import load_annotations

REPO = Path(__file__).resolve().parents[2]


def profile(n_train: int, *, per_class: float = 100.0, imbalance: float = 1.5, rarest: float = 0.3) -> DataProfile:
    return DataProfile(
        n_train=n_train,
        n_dev=100,
        texts_per_class=per_class,
        smallest_class=int(per_class),
        imbalance=imbalance,
        rarest_positive_rate=rarest,
    )


@pytest.mark.parametrize(
    ("n_train", "epochs", "lr", "patience", "min_epochs"),
    [
        (40, 20, 5e-5, 5, 10),
        (300, 20, 5e-5, 5, 10),
        (700, 15, 5e-5, 4, 8),
        (3_000, 7, 5e-5, 3, 4),
        (30_000, 3, 3e-5, 3, 2),
    ],
)
def test_the_rule_picks_the_documented_settings(
    n_train: int, epochs: int, lr: float, patience: int, min_epochs: int
) -> None:
    config, notes = resolve_auto(TrainConfig(), profile(n_train))
    assert config.epochs == epochs
    assert config.learning_rate == lr
    assert config.head_learning_rate == pytest.approx(20 * lr)
    assert config.eval_every is None  # once per epoch
    assert config.early_stopping_patience == patience
    assert config.min_epochs == min_epochs
    assert config.class_weighting == "none"  # balanced classes
    assert config.frozen_head is False  # 100 texts per class
    assert config.probe_heads is False  # only with the frozen head
    assert set(notes) == set(AUTO_FIELDS)
    assert notes["epochs"] == f"{epochs} (auto: {n_train:,} training texts)"
    assert not [name for name in AUTO_FIELDS if getattr(config, name) == AUTO]


def test_epochs_follow_the_square_root_rule_within_bounds() -> None:
    for n in (1, 10, 100, 400, 1_000, 5_000, 13_000, 14_000, 100_000):
        assert auto_epochs(n) == min(20, max(3, round(400 / math.sqrt(n))))
    assert [auto_epochs(n) for n in (400, 700, 3_000, 13_100)] == [20, 15, 7, 3]


def test_imbalance_and_scarcity_switch_class_weights_and_the_frozen_head() -> None:
    assert resolve_auto(TrainConfig(), profile(700, imbalance=3.5))[0].class_weighting == "sqrt"
    assert resolve_auto(TrainConfig(), profile(700, rarest=0.05))[0].class_weighting == "sqrt"
    assert resolve_auto(TrainConfig(), profile(700, imbalance=2.9, rarest=0.2))[0].class_weighting == "none"
    assert resolve_auto(TrainConfig(), profile(120, per_class=29))[0].frozen_head is True
    assert resolve_auto(TrainConfig(), profile(120, per_class=30))[0].frozen_head is False
    # the frozen head, when tried, always brings the probe's heads as the fine-tuned model's start
    assert resolve_auto(TrainConfig(), profile(120, per_class=29))[0].probe_heads is True
    assert resolve_auto(TrainConfig(frozen_head=True), profile(5_000))[0].probe_heads is True
    assert resolve_auto(TrainConfig(), profile(300, per_class=41))[0].probe_heads is False
    assert resolve_auto(TrainConfig(probe_heads=True), profile(5_000))[0].probe_heads is True


def test_explicit_values_win() -> None:
    given = TrainConfig(
        epochs=8,
        learning_rate=1e-4,
        head_learning_rate=None,
        early_stopping_patience=None,
        min_epochs=0,
        eval_every=25,
        class_weighting="balanced",
        frozen_head=False,
        probe_heads=False,
    )
    resolved, notes = resolve_auto(given, profile(40, per_class=5, imbalance=9))
    assert resolved == given and notes == {}
    # partly given: the rest follows the rule, derived settings from the given epochs
    resolved, notes = resolve_auto(TrainConfig(epochs=8), profile(300))
    assert (resolved.epochs, resolved.min_epochs, resolved.early_stopping_patience) == (8, 4, 3)
    assert "epochs" not in notes and notes["min_epochs"] == "4 (auto: half of 8 planned epochs)"


def test_the_shipped_recipe_keeps_its_settings() -> None:
    """training/configs/default.json sets every setting the rule chooses except three, which cannot
    change its run: min_epochs 3 (its patience of 2 cannot stop before 3 evaluations), no frozen head
    and so no probe heads."""
    shipped = TrainConfig.from_json(REPO / "training" / "configs" / "default.json")
    resolved, notes = resolve_auto(shipped, profile(6_341, per_class=110, imbalance=5.4, rarest=0.015))
    assert set(notes) == {"min_epochs", "frozen_head", "probe_heads"}
    assert resolved.min_epochs == 3 and resolved.frozen_head is False and resolved.probe_heads is False
    assert shipped.early_stopping_patience is not None and shipped.early_stopping_patience + 1 >= resolved.min_epochs
    assert {k: v for k, v in resolved.to_dict().items() if k not in notes} == {
        k: v for k, v in shipped.to_dict().items() if k not in notes
    }


def test_config_accepts_auto_and_rejects_other_words() -> None:
    assert TrainConfig.from_dict({"epochs": "auto", "frozen_head": True}).frozen_head is True
    with pytest.raises(ValueError, match="epochs 'many'"):
        TrainConfig.from_dict({"epochs": "many"})
    with pytest.raises(ValueError, match="frozen_head"):
        TrainConfig.from_dict({"frozen_head": "sometimes"})
    with pytest.raises(ValueError, match="probe_heads"):
        TrainConfig.from_dict({"probe_heads": "maybe"})
    with pytest.raises(ValueError, match="min_epochs"):
        TrainConfig(min_epochs=-1)


def test_profile_of_the_fixture_data(splits_dir: Path) -> None:
    config = tiny_config(Path("unused"))
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [], config.tasks)
    p = DataProfile.of(data)
    assert (p.n_train, p.n_dev) == (28, 14)
    # sentiment: 28 records, every fifth (i % 5 == 1) not annotated: 22 over 3 classes
    sentiment = [r["sentiment"] for r in make_records(28, 0)]
    annotated = [s for s in sentiment if s is not None]
    assert p.texts_per_class <= len(annotated) / 3
    counts = [annotated.count(c) for c in ("negative", "neutral", "positive")]
    assert p.imbalance >= max(counts) / min(counts)
    assert resolve_auto(TrainConfig(), p)[0].frozen_head is True


# ------------------------------------------------------------------ training with the rule


def test_early_stopping_never_stops_before_the_minimum(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from khmer_civic.train.trainer import Trainer

    # learning rates so small that dev never improves after the first evaluation
    config = tiny_config(
        tiny_encoder_dir, epochs=6, learning_rate=1e-12, head_learning_rate=1e-12, eval_every=None,
        early_stopping_patience=1, min_epochs=4, frozen_head=False,
    )  # fmt: skip
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [], config.tasks)
    state = Trainer(config, run_dir=tmp_path / "run").fit(data)
    steps_per_epoch = 4  # 28 texts, batches of 8
    assert [h["step"] for h in state.history] == [4, 8, 12, 16]  # patience ran out at epoch 2, the minimum is 4
    assert state.stopped_early and state.step == 4 * steps_per_epoch
    without_minimum = Trainer(
        TrainConfig(**{**config.__dict__, "min_epochs": 0}), run_dir=tmp_path / "run0"
    ).fit(data)
    assert [h["step"] for h in without_minimum.history] == [4, 8]


def test_auto_settings_are_logged_and_the_frozen_head_is_tried(
    tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from khmer_civic.train.trainer import Trainer

    config = TrainConfig(
        base_model=str(tiny_encoder_dir), tasks=tiny_config(tiny_encoder_dir).tasks, max_length=16, window_stride=8,
        batch_size=8, threads=1, progress=False, freeze_embeddings=False,
    )  # fmt: skip
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [], config.tasks)
    trainer = Trainer(config, run_dir=tmp_path / "run")
    result = trainer.train(data)
    log = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    assert "epochs 20 (auto: 28 training texts)" in log
    assert "min_epochs 10 (auto: half of 20 planned epochs)" in log
    assert "frozen-encoder head (logistic regression" in log
    saved = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert saved["epochs"] == 20 and saved["learning_rate"] == 5e-5 and saved["frozen_head"] is True
    assert result.auto["epochs"].startswith("20 (auto")
    frozen = result.frozen_head
    assert frozen is not None and frozen["C"] in (0.1, 1.0, 10.0)
    assert frozen["chosen"] == (frozen["dev_score"] > frozen["fine_tuned_dev_score"])
    # what the model now scores on dev is what the chosen candidate scored
    from khmer_civic.train.evaluate import selection_score

    dev = trainer._prepare(data["dev"], data.schema, training=False)
    expected = frozen["dev_score"] if frozen["chosen"] else frozen["fine_tuned_dev_score"]
    assert selection_score(trainer._evaluate(dev, data.schema)) == pytest.approx(expected, abs=1e-6)


def test_fine_tuning_starts_from_the_frozen_heads(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    """With the frozen-encoder candidate tried (and probe_heads, which it implies under "auto"), the
    fine-tuned model starts from its heads: after a step at a vanishing learning rate it scores on
    dev what the candidate scored. Without probe_heads it does not."""
    pytest.importorskip("torch")
    from khmer_civic.train.trainer import Trainer

    config = TrainConfig(
        base_model=str(tiny_encoder_dir), tasks=tiny_config(tiny_encoder_dir).tasks, max_length=16, window_stride=8,
        batch_size=8, threads=1, progress=False, frozen_head=True, max_steps=1, eval_every=1,
        learning_rate=1e-12, head_learning_rate=1e-12, weight_decay=0.0, head_dropout=0.0,
    )  # fmt: skip
    data = load_annotations([splits_dir / "train.jsonl"], [splits_dir / "dev.jsonl"], [], config.tasks)
    frozen = Trainer(config, run_dir=tmp_path / "run").train(data).frozen_head
    assert frozen is not None and frozen["dev_score"] > 0
    assert frozen["fine_tuned_dev_score"] == pytest.approx(frozen["dev_score"], abs=1e-6)
    assert frozen["chosen"] is False  # a tie keeps the fine-tuned model
    random_start = TrainConfig(**{**config.__dict__, "probe_heads": False})
    frozen = Trainer(random_start, run_dir=tmp_path / "run2").train(data).frozen_head
    assert frozen is not None and frozen["fine_tuned_dev_score"] != pytest.approx(frozen["dev_score"], abs=1e-6)


def test_frozen_heads_fold_the_standardisation_and_classify_separable_features() -> None:
    pytest.importorskip("sklearn")
    from khmer_civic.train.frozen_head import fit_heads, head_logits

    rng = np.random.default_rng(0)
    n, d = 90, 6
    y_single = np.repeat(np.arange(3), n // 3)
    x = rng.normal(size=(n, d)) * 0.3 + 5.0  # far from zero mean: the folding matters
    x[np.arange(n), y_single] += 3.0
    schema = ModelSchema(
        tasks=(
            TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment_logits"),
            TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action_logits"),
            TaskSpec("topics", "multi_label", ("a", "b"), "topics_logits"),
        )
    )
    binary = (y_single == 2).astype(np.float32)
    multi = np.stack([(y_single == 0), (y_single >= 1)], axis=1).astype(np.float32)
    mask = np.ones(n, dtype=np.float32)
    mask[::10] = 0.0  # not annotated: left out of the fit
    targets = {"sentiment": (y_single, mask), "call_to_action": (binary, mask), "topics": (multi, mask)}
    heads = fit_heads(x, targets, schema, c=1.0)
    assert heads["sentiment"][0].shape == (3, d) and heads["call_to_action"][0].shape == (1, d)
    logits = head_logits(heads, x)
    assert (logits["sentiment"].argmax(axis=1) == y_single).mean() > 0.95
    assert ((logits["call_to_action"][:, 0] > 0) == (binary > 0)).mean() > 0.95
    assert ((logits["topics"] > 0) == (multi > 0)).mean() > 0.95


def test_a_multi_label_task_counts_positives_per_label(splits_dir: Path) -> None:
    """100 texts with three topics, each topic positive in about 16 of them, are few-shot data for
    every topic: the profile counts a multi-label task's mean positives per label (not texts /
    labels, 33 here), so the frozen-encoder head is tried."""
    config = tiny_config(Path("unused"))
    records = []
    for i in range(120):  # 100 to train on, 20 for dev
        record = make_records(1, i)[0]
        record["id"] = f"ml-{i}"
        record["topics"] = [["education"], ["health"], ["local_administration"], [], [], []][i % 6]
        record["sentiment"] = ["negative", "neutral", "positive"][i % 3]
        record["call_to_action"] = i % 2 == 0
        records.append(record)
    train, dev = splits_dir / "ml_train.jsonl", splits_dir / "ml_dev.jsonl"
    records, dev_records = records[:100], records[100:]
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    dev.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dev_records), encoding="utf-8")
    data = load_annotations([train], [dev], [], config.tasks)
    p = DataProfile.of(data)
    labels = next(t.labels for t in data.schema.tasks if t.name == "topics")
    positives = [sum(1 for r in records if label in r["topics"]) for label in labels]
    assert p.texts_per_class == pytest.approx(sum(positives) / len(labels))  # topics is the scarcest task
    assert p.texts_per_class < 100 / 3
    assert resolve_auto(TrainConfig(), p)[0].frozen_head is True
