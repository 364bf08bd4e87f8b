"""The time-boxed search (khmer_civic.train.search) and the recipe's TF-IDF verdict, on the tiny encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_fixtures import tiny_config

from khmer_civic.train.data import load_annotations
from khmer_civic.train.recipe import baseline_verdict, comparison_markdown, run_recipe
from khmer_civic.train.search import grid_pairs, run_search


def _data(root: Path, config: Any, test: bool = True) -> Any:
    return load_annotations(
        [root / "train.jsonl"], [root / "dev.jsonl"], [root / "test.jsonl"] if test else [], config.tasks
    )


def test_grid_puts_the_centre_first_and_scales_around_it() -> None:
    pairs = grid_pairs(5e-5, 15)
    assert pairs[0] == (5e-5, 15.0)
    assert set(pairs) == {(lr, e) for lr in (2.5e-5, 5e-5, 1e-4) for e in (8.0, 15.0, 22.0)}
    assert grid_pairs(1e-3, 1)[:3] == [(1e-3, 1.0), (5e-4, 1.0), (2e-3, 1.0)]  # epochs never below 1
    assert len(grid_pairs(1e-3, 1)) == 6  # 0.5 x 1 epoch rounds to 1: no repeated pair


def test_search_logs_every_trial_and_returns_the_best(tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_encoder_dir, epochs=2, eval_every=None)
    data = _data(splits_dir, config, test=False)
    result = run_search(config, data, tmp_path / "run", minutes=60)
    trials = [json.loads(line) for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]
    assert trials == result.trials
    assert len(trials) == 9 + 2  # the grid with the recipe's seed, then two more seeds of the best pair
    assert [t["seed"] for t in trials] == [13] * 9 + [14, 15]
    first_pass = trials[:9]
    best_pair = max(first_pass, key=lambda t: t["dev_score"])
    assert {(t["learning_rate"], t["epochs"]) for t in trials[9:]} == {(best_pair["learning_rate"], best_pair["epochs"])}
    assert result.best["dev_score"] == max(t["dev_score"] for t in trials)
    assert result.config.learning_rate == result.best["learning_rate"]
    assert result.config.seed == result.best["seed"] and result.config.epochs == result.best["epochs"]
    assert result.soup is not None and len(result.soup["trials"]) == 3
    checkpoints = Path(result.config.checkpoint_dir or "")
    assert (checkpoints / "best" / "model.safetensors").is_file()
    if result.soup["kept"]:
        assert checkpoints == tmp_path / "run" / "checkpoints"
    else:
        assert checkpoints == tmp_path / "run" / "trials" / f"{result.best['trial']:02d}" / "checkpoints"
    assert not result.stopped_by_time


def test_the_time_box_stops_the_search_after_at_least_one_trial(
    tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_encoder_dir, epochs=1, eval_every=None)
    result = run_search(config, _data(splits_dir, config, test=False), tmp_path / "run", minutes=1e-6)
    assert len(result.trials) == 1 and result.stopped_by_time
    assert result.best["trial"] == 0 and result.soup is None


def test_recipe_with_search_exports_the_winner_and_tables_the_trials(
    tiny_encoder_dir: Path, splits_dir: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_encoder_dir, epochs=2, eval_every=None)
    data = _data(splits_dir, config)
    comparison = run_recipe(
        config, data, out_dir=tmp_path / "model", run_dir=tmp_path / "run", search_minutes=60, speed_texts=2
    )
    search = comparison["search"]
    assert len(search["trials"]) == 11
    best = search["trials"][search["best_trial"]]
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["search"]["n_trials"] == 11
    assert metrics["training"]["config"]["learning_rate"] == best["learning_rate"]
    assert metrics["training"]["config"]["seed"] == best["seed"]
    log = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    assert "resumed from" in log  # the winner's checkpoint is reused, not retrained
    markdown = (tmp_path / "run" / "comparison.md").read_text(encoding="utf-8")
    assert "| trial | learning rate | epochs | seed | dev score |" in markdown
    assert f"| {best['trial']} **best** |" in markdown


def test_the_baseline_verdict_is_plain_and_only_when_the_baseline_wins() -> None:
    comparison: dict[str, Any] = {
        "split": "test",
        "n_texts": 10,
        "mean_macro_f1": {"transformer": 0.70, "baseline": 0.75},
        "dev_mean_macro_f1": {"transformer": 0.741, "baseline": 0.792},
        "baseline_wins_on_dev": True,
        "tasks": {},
        "groups": {},
    }
    verdict = baseline_verdict(comparison)
    assert verdict is not None
    assert "does not beat the TF-IDF baseline on dev" in verdict and "0.741" in verdict and "0.792" in verdict
    assert f"**{verdict}**" in comparison_markdown(comparison)
    comparison.update(baseline_wins_on_dev=False, dev_mean_macro_f1={"transformer": 0.8, "baseline": 0.792})
    assert baseline_verdict(comparison) is None
    assert "does not beat" not in comparison_markdown(comparison)
