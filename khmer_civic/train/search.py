"""``khmer-civic train --search``: a small, time-boxed search over learning rate x epochs x seed on dev.

The centre of the grid is the recipe's own setting (the small-data rule's choice for settings left
to ``"auto"``). :func:`run_search` trains, in this order, until the time box would be overrun
(the next trial is started only when the longest trial so far still fits):

1. the centre, then the other learning rate x epochs pairs (learning rate x 0.5, 1, 2; epochs
   x 0.5, 1, 1.5), all with the recipe's seed;
2. the best pair again with further seeds (seed + 1, seed + 2).

Every trial is a full training run (early stopping, the best dev checkpoint) under
``<run dir>/trials/NN/``; its dev score (mean macro-F1 over tasks, as early stopping uses it)
is appended to ``<run dir>/trials.jsonl``. The best trial wins; when two or more seeds of the
best pair were trained, their best weights are also averaged (a "soup": one model, no slower
at inference) and the average replaces the best trial when its dev score is higher. The winner
is not retrained: the final run resumes from its checkpoint (or the averaged one), then
calibrates, exports and evaluates as a plain run does.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.train.auto import AUTO, DataProfile, resolve_auto
from khmer_civic.train.config import TrainConfig
from khmer_civic.train.data import AnnotatedData

LR_FACTORS: tuple[float, ...] = (1.0, 0.5, 2.0)
EPOCH_FACTORS: tuple[float, ...] = (1.0, 0.5, 1.5)
EXTRA_SEEDS = 2


@dataclass
class SearchResult:
    """The trials run, the winner's config and the checkpoints the final run resumes from."""

    trials: list[dict[str, Any]]
    best: dict[str, Any]
    config: TrainConfig  # the winner's settings, checkpoint_dir pointing at its checkpoints
    soup: dict[str, Any] | None = None  # the seed average, when tried
    minutes: float = 0.0
    stopped_by_time: bool = False
    budget_minutes: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "best_trial": self.best["trial"],
            "soup": self.soup,
            "minutes": round(self.minutes, 2),
            "budget_minutes": self.budget_minutes,
            "stopped_by_time": self.stopped_by_time,
        }


def grid_pairs(learning_rate: float, epochs: float) -> list[tuple[float, float]]:
    """The learning rate x epochs pairs, the centre first, epochs rounded (at least 1)."""
    pairs = []
    for e in EPOCH_FACTORS:
        for f in LR_FACTORS:
            pair = (float(f"{learning_rate * f:.3g}"), float(max(1, round(epochs * e))))
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def trial_config(base: TrainConfig, learning_rate: float, epochs: float, seed: int, checkpoints: Path) -> TrainConfig:
    """``base`` with the trial's learning rate, epochs and seed; settings that depend on them (head
    learning rate, patience, minimum epochs) stay ``"auto"`` where the recipe left them so. Trials
    never try the frozen-encoder head (the final run does)."""
    return dataclasses.replace(
        base,
        learning_rate=learning_rate,
        epochs=epochs,
        seed=seed,
        max_steps=None,
        frozen_head=False,
        progress=False,
        checkpoint_dir=str(checkpoints),
    )


def run_search(
    config: TrainConfig,
    data: AnnotatedData,
    run_dir: Path,
    *,
    minutes: float,
    notify: Any = None,
) -> SearchResult:
    """Run the trials (see the module docstring) and return the winner; ``notify`` gets one line
    per trial."""
    from khmer_civic.train.trainer import Trainer

    if config.max_steps is not None:
        raise ValueError("--search chooses the number of epochs: leave max_steps out of the recipe")
    run_dir = Path(run_dir)
    trials_dir = run_dir / "trials"
    shutil.rmtree(trials_dir, ignore_errors=True)
    trials_dir.mkdir(parents=True)
    log_path = run_dir / "trials.jsonl"
    log_path.write_text("", encoding="utf-8")
    centre, _ = resolve_auto(config, DataProfile.of(data))
    budget = minutes * 60.0
    started = time.time()
    trials: list[dict[str, Any]] = []
    configs: dict[int, TrainConfig] = {}
    longest = 0.0
    stopped_by_time = False

    def run_trial(learning_rate: float, epochs: float, seed: int) -> bool:
        nonlocal longest, stopped_by_time
        elapsed = time.time() - started
        if trials and elapsed + longest > budget:
            stopped_by_time = True
            return False
        index = len(trials)
        folder = trials_dir / f"{index:02d}"
        cfg = trial_config(config, learning_rate, epochs, seed, folder / "checkpoints")
        trainer = Trainer(cfg, run_dir=folder)
        trial_started = time.time()
        with trainer.torch_settings():
            state = trainer.fit(data)
        seconds = time.time() - trial_started
        longest = max(longest, seconds)
        configs[index] = trainer.config
        steps_per_epoch = math.ceil(len(data["train"]) / trainer.config.batch_size)
        record = {
            "trial": index,
            "learning_rate": learning_rate,
            "head_learning_rate": trainer.config.head_learning_rate,
            "epochs": epochs,
            "seed": seed,
            "dev_score": state.best_score,
            "best_epoch": round(state.best_step / steps_per_epoch, 2),
            "steps": state.step,
            "stopped_early": state.stopped_early,
            "seconds": round(seconds, 1),
        }
        trials.append(record)
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if notify is not None:
            notify(
                f"trial {index}: lr {learning_rate:g}, {epochs:g} epochs, seed {seed}: dev score "
                f"{state.best_score:.4f} ({seconds / 60:.1f} min)"
            )
        return True

    lr, epochs = float(centre.learning_rate), float(centre.epochs)
    for pair_lr, pair_epochs in grid_pairs(lr, epochs):
        if not run_trial(pair_lr, pair_epochs, config.seed):
            break
    best = max(trials, key=lambda t: t["dev_score"])
    if not stopped_by_time:
        for k in range(1, EXTRA_SEEDS + 1):
            if not run_trial(best["learning_rate"], best["epochs"], config.seed + k):
                break
    best = max(trials, key=lambda t: (t["dev_score"], -t["trial"]))
    winner = configs[best["trial"]]
    result = SearchResult(
        trials=trials, best=best, config=winner, stopped_by_time=stopped_by_time, budget_minutes=minutes
    )
    seeds = [t for t in trials if (t["learning_rate"], t["epochs"]) == (best["learning_rate"], best["epochs"])]
    if len(seeds) >= 2:
        result.soup = _try_soup(seeds, configs, best, data, run_dir, result)
    result.config = dataclasses.replace(result.config, frozen_head=config.frozen_head, progress=config.progress)
    if config.head_learning_rate == AUTO:
        result.config = dataclasses.replace(result.config, head_learning_rate=winner.head_learning_rate)
    result.minutes = (time.time() - started) / 60
    return result


def _try_soup(
    seeds: Sequence[dict[str, Any]],
    configs: dict[int, TrainConfig],
    best: dict[str, Any],
    data: AnnotatedData,
    run_dir: Path,
    result: SearchResult,
) -> dict[str, Any]:
    """Average the best weights of the seed trials of the best pair; when the average scores higher
    on dev, write it as the checkpoint the final run resumes from (``<run dir>/checkpoints``)."""
    import torch
    from safetensors.torch import load_file, save_file

    from khmer_civic.train.trainer import Trainer

    states = [load_file(str(Path(configs[t["trial"]].checkpoint_dir or "") / "best" / "model.safetensors")) for t in seeds]
    averaged = {
        key: torch.stack([s[key].float() for s in states]).mean(dim=0).to(states[0][key].dtype) for key in states[0]
    }
    winner = configs[best["trial"]]
    trainer = Trainer(winner, run_dir=run_dir / "trials" / "soup")
    with trainer.torch_settings():
        score = trainer.dev_score(data, averaged)
    kept = score > best["dev_score"] + 1e-9
    if kept:
        source = Path(winner.checkpoint_dir or "")
        target = run_dir / "checkpoints"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        save_file({k: v.contiguous() for k, v in averaged.items()}, str(target / "best" / "model.safetensors"))
        state_file = target / "last" / "state.json"
        state = json.loads(state_file.read_text(encoding="utf-8"))
        state["best_score"] = score
        state_file.write_text(json.dumps(state) + "\n", encoding="utf-8")
        result.config = dataclasses.replace(winner, checkpoint_dir=str(target))
    return {"trials": [t["trial"] for t in seeds], "dev_score": score, "kept": kept}


def trials_markdown(search: dict[str, Any]) -> list[str]:
    """The search's trials as Markdown lines for comparison.md."""
    lines = [
        "",
        f"Search ({len(search['trials'])} trials, {search['minutes']:.1f} of {search['budget_minutes']:g} minutes"
        + (", stopped by the time box" if search.get("stopped_by_time") else "")
        + "); dev score = dev mean macro-F1 before calibration:",
        "",
        "| trial | learning rate | epochs | seed | dev score | best epoch | stopped early | minutes |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for t in search["trials"]:
        mark = " **best**" if t["trial"] == search["best_trial"] else ""
        lines.append(
            f"| {t['trial']}{mark} | {t['learning_rate']:g} | {t['epochs']:g} | {t['seed']} | {t['dev_score']:.4f} | "
            f"{t['best_epoch']:g} | {'yes' if t['stopped_early'] else 'no'} | {t['seconds'] / 60:.1f} |"
        )
    soup = search.get("soup")
    if soup:
        verdict = "kept" if soup["kept"] else "not kept (the best single trial scores higher)"
        lines += ["", f"Average of the weights of trials {soup['trials']}: dev score {soup['dev_score']:.4f}, {verdict}."]
    return lines
