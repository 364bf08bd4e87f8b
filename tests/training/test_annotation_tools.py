"""The annotation tools in training/annotation: validation, agreement, adjudication, splits, card."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from annotation_tools import WORDS, load_tool, random_text
from annotation_tools import write_jsonl as write

annolib = load_tool("annolib")
validate = load_tool("validate")
agreement = load_tool("agreement")
adjudicate = load_tool("adjudicate")
make_splits = load_tool("make_splits")
data_card = load_tool("data_card")


def record(rid: str, text: str, **labels: Any) -> dict[str, Any]:
    out = {
        "id": rid,
        "text": text,
        "topics": [],
        "sentiment": "neutral",
        "call_to_action": False,
        "source": "test",
        "provenance": "corpus",
    }
    out.update(labels)
    return out


# ---------------------------------------------------------------- validation


def test_validation_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    good = record("a-1", "សាលារៀនថ្មី", topics=["education"], sentiment="positive")
    bad_rows = [
        record("a-2", "   "),  # empty text
        record("a-3", "ឃុំ", topics=["edu"], sentiment="happy", call_to_action="yes", provenance="web"),
        {k: v for k, v in record("a-4", "ពេទ្យ").items() if k != "sentiment"},  # missing field
        record("a-1", "ម្តងទៀត"),  # duplicate of the first file's id
        record(7, "លេខ"),  # type: ignore[arg-type]  # integer id
        record("a-6", "ឃុំ", topics=["health", "health"], source=""),
    ]
    first = write(tmp_path / "one.jsonl", [good])
    second = write(tmp_path / "two.jsonl", bad_rows)
    with second.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = annolib.validate_files([first, second])
    messages = [str(p) for p in result.problems]
    where = f"{second}:"
    assert all(m.startswith(str(first)) or m.startswith(where) for m in messages)
    expected = {
        1: "'text'",
        2: "topics: unknown label(s) ['edu']",
        4: "duplicate id 'a-1'",
        5: "'id' must be a string",
        7: "not valid JSON",
    }
    for line, fragment in expected.items():
        assert any(m.startswith(f"{where}{line}:") and fragment in m for m in messages), (line, fragment, messages)
    line2 = [m for m in messages if m.startswith(f"{where}2:")]
    assert any("sentiment: 'happy'" in m for m in line2)
    assert any("call_to_action" in m for m in line2)
    assert any("'provenance'" in m for m in line2)
    assert any(m.startswith(f"{where}3:") and "missing field 'sentiment'" in m for m in messages)
    line6 = [m for m in messages if m.startswith(f"{where}6:")]
    assert any("listed twice" in m for m in line6) and any("'source'" in m for m in line6)
    assert not any(m.startswith(str(first)) for m in messages)


def test_validation_accepts_nulls_and_warns_on_letterless_text(tmp_path: Path) -> None:
    rows = [
        record("n-1", "ព័ត៌មាន", topics=None, sentiment=None, call_to_action=None),
        record("n-2", "👍👍👍", provenance="authored"),
    ]
    path = write(tmp_path / "ok.jsonl", rows)
    result = annolib.validate_files([path])
    assert result.ok, result.problems
    assert [(w.line, w.message) for w in result.warnings] == [(2, annolib.NO_LETTERS)]
    assert validate.main([str(path)]) == 0


def test_validate_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bad.jsonl", [record("x", "ឃុំ", sentiment="angry")])
    assert validate.main([str(path)]) == 1
    assert f"{path}:1: sentiment: 'angry'" in capsys.readouterr().out


def test_labels_only_files(tmp_path: Path) -> None:
    rows = [
        {"id": "p-1", "topics": ["health"], "sentiment": "negative", "call_to_action": True, "annotator": "Q"},
        {"id": "p-2", "topics": "health", "sentiment": "negative", "call_to_action": 1},
    ]
    path = write(tmp_path / "pass2.jsonl", rows)
    result = annolib.validate_files([path], labels_only=True)
    assert {p.line for p in result.problems} == {2}
    assert any("topics: expected a list" in p.message for p in result.problems)
    assert any("call_to_action: expected true" in p.message for p in result.problems)


# ---------------------------------------------------------------- kappa and agreement


def test_kappa_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(3)
    for labels in (["positive", "neutral", "negative"], ["false", "true"]):
        for _ in range(20):
            n = rng.randint(5, 60)
            first = [rng.choice(labels) for _ in range(n)]
            # mostly agree, sometimes not, so kappa spans a range
            second = [a if rng.random() < 0.7 else rng.choice(labels) for a in first]
            expected = metrics.cohen_kappa_score(first, second)
            got = agreement.cohen_kappa(first, second)
            assert got == pytest.approx(expected, abs=1e-12)
    # a category only one rater used
    first, second = ["a", "a", "b", "c"], ["a", "b", "b", "b"]
    assert agreement.cohen_kappa(first, second) == pytest.approx(metrics.cohen_kappa_score(first, second))


def test_kappa_undefined_and_perfect() -> None:
    assert agreement.cohen_kappa([], []) is None
    assert agreement.cohen_kappa(["x"] * 5, ["x"] * 5) is None
    assert agreement.cohen_kappa(["x", "y", "x"], ["x", "y", "x"]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        agreement.cohen_kappa(["x"], [])


def _passes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(11)
    first, second = [], []
    for i in range(60):
        provenance = "corpus" if i % 2 else "authored"
        topics = sorted(rng.sample(list(annolib.TOPICS), rng.randint(0, 2)))
        sentiment = rng.choice(annolib.SENTIMENTS)
        cta = rng.random() < 0.4
        first.append(
            record(f"t-{i}", random_text(rng), topics=topics, sentiment=sentiment, call_to_action=cta,
                   provenance=provenance, annotator="R1" if i < 30 else "R2")
        )
        topics2 = list(topics)
        if i % 7 == 0:
            topics2 = sorted(set(topics2) ^ {"health"})
        sentiment2 = sentiment if i % 5 else rng.choice(annolib.SENTIMENTS)
        cta2 = (not cta) if i % 9 == 0 else cta
        second.append({"id": f"t-{i}", "topics": topics2, "sentiment": sentiment2, "call_to_action": cta2, "annotator": "Q"})
    second[3]["sentiment"] = None  # a judgement not made is skipped, not counted as disagreement
    second.append({"id": "not-in-first", "topics": [], "sentiment": "neutral", "call_to_action": False})
    return first, second


def test_agreement_figures_match_sklearn_per_task_and_group(tmp_path: Path) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    first, second = _passes()
    f = annolib.load_records([write(tmp_path / "first.jsonl", first)])
    s = annolib.load_records([write(tmp_path / "second.jsonl", second)], labels_only=True)
    report, sheet = agreement.compute_agreement(f, s, samples=50, seed=1)
    assert report["paired"] == 60 and report["second_pass_ids_without_first_pass"] == 1
    by_id = {r["id"]: r for r in second}
    for group, wanted in (("all", None), ("provenance=corpus", "corpus"), ("provenance=authored", "authored")):
        rows = [r for r in first if wanted is None or r["provenance"] == wanted]
        figures = report["groups"][group]
        sent = [(r["sentiment"], by_id[r["id"]]["sentiment"]) for r in rows if by_id[r["id"]]["sentiment"] is not None]
        assert figures["sentiment"]["n"] == len(sent)
        assert figures["sentiment"]["kappa"] == pytest.approx(
            metrics.cohen_kappa_score([a for a, _ in sent], [b for _, b in sent]), abs=1e-4
        )
        cta_a = [r["call_to_action"] for r in rows]
        cta_b = [by_id[r["id"]]["call_to_action"] for r in rows]
        assert figures["call_to_action"]["kappa"] == pytest.approx(metrics.cohen_kappa_score(cta_a, cta_b), abs=1e-4)
        for label in annolib.TOPICS:
            a = [label in r["topics"] for r in rows]
            b = [label in by_id[r["id"]]["topics"] for r in rows]
            kappa = figures["topics"]["per_label"][label]["kappa"]
            assert kappa == pytest.approx(metrics.cohen_kappa_score(a, b), abs=1e-4)
        exact = sum(sorted(r["topics"]) == sorted(by_id[r["id"]]["topics"]) for r in rows) / len(rows)
        assert figures["topics"]["exact_match"] == pytest.approx(exact, abs=1e-4)
        low, high = figures["sentiment"]["kappa_ci95"]
        assert low <= figures["sentiment"]["kappa"] + 1e-9 and figures["sentiment"]["kappa"] <= high + 1e-9
    # the sheet holds exactly the texts that differ, with both label sets and the text
    differing = {r["id"] for r in first if annolib.task_values_differ(r, by_id[r["id"]])}
    assert {row["id"] for row in sheet} == differing
    row = sheet[0]
    assert row["text"] and row["first"]["annotator"] and row["second"]["annotator"] == "Q"
    assert "t-3" not in differing or "sentiment" not in next(r for r in sheet if r["id"] == "t-3")["differs"]


def test_agreement_cli_is_deterministic(tmp_path: Path) -> None:
    first, second = _passes()
    f = write(tmp_path / "first.jsonl", first)
    s = write(tmp_path / "second.jsonl", second)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert agreement.main(["--first", str(f), "--second", str(s), "--out", str(out), "--bootstrap", "30"]) == 0
        outputs.append({name: (out / name).read_bytes() for name in ("agreement.json", "agreement.md", "disagreements.jsonl")})
    assert outputs[0] == outputs[1]
    assert b"provenance=corpus" in outputs[0]["agreement.md"]


# ---------------------------------------------------------------- adjudication


def test_adjudication_applies_decisions(tmp_path: Path) -> None:
    rows = [
        record("r-1", "ចូរពន្យល់ពីតួនាទីឃុំ", topics=["local_administration"], call_to_action=False, annotator="R2"),
        record("r-2", "មណ្ឌលសុខភាពល្អណាស់", topics=["health"], sentiment="positive"),
        record("r-3", "👍👍", provenance="authored"),
        record("r-4", "ឃុំថ្មី", topics=[]),
    ]
    decisions = {
        "r-1": {"id": "r-1", "call_to_action": True, "reason": "explicit prompt to the reader"},
        "r-4": {"id": "r-4", "topics": ["local_administration", "education"], "sentiment": "negative", "reason": "x"},
    }
    merged = adjudicate.merge(rows, decisions)
    assert [r["id"] for r in merged] == ["r-1", "r-2", "r-4"]  # letterless text left out, order kept
    r1, r2, r4 = merged
    assert r1["call_to_action"] is True and r1["topics"] == ["local_administration"] and r1["sentiment"] == "neutral"
    assert r1["adjudicated"] is True and r1["adjudication_reason"] == "explicit prompt to the reader"
    assert r1["first_pass"]["call_to_action"] is False and r1["annotator"] == "R2"
    assert "adjudicated" not in r2 and r2 == {**rows[1], "cta_type": []}  # [] where call_to_action is false
    assert r4["topics"] == ["education", "local_administration"] and r4["sentiment"] == "negative"
    assert rows[0]["call_to_action"] is False  # inputs untouched
    # pure: merging the same inputs again gives the same result
    assert adjudicate.merge(rows, decisions) == merged
    with pytest.raises(KeyError):
        adjudicate.merge(rows, {"nope": {"id": "nope", "sentiment": "neutral", "reason": "x"}})


def test_adjudication_cli_rerun_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = write(tmp_path / "ann.jsonl", [record("r-1", "សាលារៀន"), record("r-2", "ពេទ្យ")])
    dec = write(tmp_path / "dec.jsonl", [{"id": "r-2", "topics": ["health"], "reason": "clinic staff"}])
    sheet = write(tmp_path / "dis.jsonl", [{"id": "r-1"}, {"id": "r-2"}])
    out = tmp_path / "annotated.jsonl"
    args = ["--annotations", str(ann), "--adjudications", str(dec), "--disagreements", str(sheet), "--out", str(out)]
    assert adjudicate.main(args) == 0
    first_bytes = out.read_bytes()
    assert "1 disagreement(s) without a decision" in capsys.readouterr().out
    assert adjudicate.main(args) == 0 and out.read_bytes() == first_bytes
    assert adjudicate.main([*args, "--strict"]) == 1
    lines = [json.loads(x) for x in first_bytes.decode("utf-8").splitlines()]
    assert lines[1]["topics"] == ["health"] and lines[1]["adjudicated"] is True

    for bad in (
        [{"id": "r-2", "topics": ["health"]}],  # no reason
        [{"id": "r-2", "sentiment": "furious", "reason": "x"}],  # unknown label
        [{"id": "r-2", "sentiment": "neutral", "reason": "x"}, {"id": "r-2", "sentiment": "negative", "reason": "y"}],
        [{"id": "r-2", "reason": "nothing decided"}],
        [{"id": "r-9", "sentiment": "neutral", "reason": "unknown id"}],
    ):
        write(dec, bad)
        assert adjudicate.main(args) == 1, bad


# ---------------------------------------------------------------- near duplicates and splits


def brute_force_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    shingles = sys.modules["sample_candidates"].shingles
    keys = [annolib.match_key(t) for t in texts]
    grams = [shingles(k, 5) for k in keys]
    pairs = set()
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            shared = len(grams[i] & grams[j])
            if keys[i] == keys[j] or shared / (len(grams[i]) + len(grams[j]) - shared) >= threshold:
                pairs.add((i, j))
    return pairs


def test_near_duplicates_are_grouped() -> None:
    rng = random.Random(5)
    base = random_text(rng, 14)
    words = base.split()
    texts = [
        base,
        "  " + base.replace(" ", "  ") + " !!! 😀",  # spacing, punctuation, emoji: same key
        base.replace(" ", "\u200b", 3),  # invisible characters
        " ".join(words[:-1] + ["ផ្សេង"]),  # one word changed
        random_text(rng, 14),
        random_text(rng, 14),
    ]
    groups = make_splits.near_duplicate_groups(texts)
    assert groups[0] == groups[1] == groups[2] == groups[3]
    assert len({groups[0], groups[4], groups[5]}) == 3


def test_near_duplicate_groups_find_every_similar_pair() -> None:
    rng = random.Random(8)
    texts: list[str] = []
    for _ in range(60):
        if texts and rng.random() < 0.5:
            words = rng.choice(texts).split()
            for _ in range(rng.randint(1, 4)):
                words[rng.randrange(len(words))] = rng.choice(WORDS)
            texts.append(" ".join(words))
        else:
            texts.append(random_text(rng, rng.randint(3, 12)))
    groups = make_splits.near_duplicate_groups(texts, 0.6)
    pairs = brute_force_pairs(texts, 0.6)
    assert pairs, "the generator should make some near-duplicates"
    assert all(groups[i] == groups[j] for i, j in pairs)
    # groups are no larger than the transitive closure of the similar pairs
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in pairs:
        parent[find(j)] = find(i)
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if groups[i] == groups[j]:
                assert find(i) == find(j)


def _dataset(n: int, seed: int, authored_every: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        if rows and rng.random() < 0.1:  # a near copy of an earlier text
            text = rng.choice(rows)["text"] + " ណាស់"
        else:
            text = random_text(rng, 12)
        rows.append(
            record(
                f"d-{i}",
                text,
                topics=sorted(rng.sample(list(annolib.TOPICS), rng.randint(0, 1))),
                sentiment=rng.choice(annolib.SENTIMENTS),
                call_to_action=rng.random() < 0.3,
                provenance="authored" if i % authored_every == 0 else "corpus",
            )
        )
    return rows


def test_splits_keep_groups_whole_and_proportions() -> None:
    rows = _dataset(500, seed=2)
    splits, summary = make_splits.make_splits(rows, seed=13)
    assert sum(len(v) for v in splits.values()) == 500
    assert summary["records_in_multi_text_groups"] > 0
    groups = make_splits.near_duplicate_groups([r["text"] for r in rows])
    split_of = {r["id"]: name for name, members in splits.items() for r in members}
    for g in set(groups):
        members = {split_of[rows[i]["id"]] for i, gg in enumerate(groups) if gg == g}
        assert len(members) == 1
    sizes = {name: len(v) for name, v in splits.items()}
    assert 0.65 <= sizes["train"] / 500 <= 0.75
    assert 0.11 <= sizes["dev"] / 500 <= 0.19 and 0.11 <= sizes["test"] / 500 <= 0.19
    for name in ("dev", "test"):
        assert {r["provenance"] for r in splits[name]} == {"corpus", "authored"}
    # stratification: the call-to-action share in test follows the data's
    cta_all = sum(r["call_to_action"] for r in rows) / len(rows)
    cta_test = sum(r["call_to_action"] for r in splits["test"]) / len(splits["test"])
    assert abs(cta_all - cta_test) < 0.06


def test_splits_are_deterministic_and_seeded(tmp_path: Path) -> None:
    rows = _dataset(200, seed=4)
    data = write(tmp_path / "annotated.jsonl", rows)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert make_splits.main(["--data", str(data), "--out", str(out), "--seed", "13"]) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {"train.jsonl", "dev.jsonl", "test.jsonl", "manifest.json"}
    first, _ = make_splits.make_splits(rows, seed=13)
    other, _ = make_splits.make_splits(rows, seed=14)
    assert [r["id"] for r in first["test"]] != [r["id"] for r in other["test"]]


def test_small_data_still_fills_every_split_and_both_provenances_in_test() -> None:
    rows = _dataset(40, seed=9, authored_every=20)  # two authored records only
    splits, _ = make_splits.make_splits(rows, seed=13)
    assert all(splits[name] for name in ("train", "dev", "test"))
    assert {r["provenance"] for r in splits["test"]} == {"corpus", "authored"}
    rng = random.Random(1)
    tiny = [record(f"s-{i}", random_text(rng, 12), provenance=p) for i, p in enumerate(("authored", "corpus", "corpus"))]
    splits, _ = make_splits.make_splits(tiny, seed=13)
    assert all(len(splits[name]) == 1 for name in ("train", "dev", "test"))


# ---------------------------------------------------------------- data card


def test_data_card_numbers_come_from_the_data(tmp_path: Path) -> None:
    rows = _dataset(90, seed=6)
    rows[0]["adjudicated"] = True
    rows[0]["adjudication_reason"] = "test"
    data = write(tmp_path / "annotated.jsonl", rows)
    splits_dir = tmp_path / "splits"
    assert make_splits.main(["--data", str(data), "--out", str(splits_dir)]) == 0
    out = tmp_path / "card.md"
    assert data_card.main(["--data", str(data), "--splits", str(splits_dir), "--out", str(out)]) == 0
    card = out.read_text(encoding="utf-8")
    authored = sum(r["provenance"] == "authored" for r in rows)
    assert f"**{len(rows)}** Khmer texts" in card
    assert f"{authored} `authored`" in card
    assert "Adjudicated records (final labels decided after a disagreement): 1" in card
    n_train = len((splits_dir / "train.jsonl").read_text(encoding="utf-8").splitlines())
    assert f"train {n_train} (" in card
    assert "`test` | 90 | NOT RECORDED" in card  # a source without a known licence is flagged
    assert "Attribution (Wikipedia)" not in card
    assert "Second-pass agreement: not computed yet." in card
    wiki = [record("wk-5", "វិគីភីឌា", source="khmer_wikipedia_5k"), record("rd-9", "សៀវភៅ", source="rdlab_wild_khmer_sentences")]
    card = data_card.render(wiki, "x", None, None, None, {"rd-9": "random"})
    assert "Splits not made yet" in card
    assert "**Attribution (Wikipedia).** The 1 records" in card and "CC BY-SA 4.0" in card
    assert "| random | 1 |" in card
