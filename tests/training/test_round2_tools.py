"""Annotation round 2 in the tools: cta_type (validation, overlays, adjudication, agreement), the
genre mapping, the news/web record formats, article-grouped and frozen splits, counts, the data
card and the news/web pool."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from annotation_tools import load_tool, random_text
from annotation_tools import write_jsonl as write

annolib = load_tool("annolib")
adjudicate = load_tool("adjudicate")
agreement = load_tool("agreement")
make_splits = load_tool("make_splits")
counts = load_tool("counts")
data_card = load_tool("data_card")
pool = load_tool("news_web_pool")

def record(rid: str, body: str = "សាលារៀនថ្មី", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rid, "text": body, "topics": [], "sentiment": "neutral", "call_to_action": False,
        "source": "rdlab_wild_khmer_sentences", "provenance": "corpus",
    }
    out.update(fields)
    return out


def news(doc: str, par: int, body: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("url", f"https://news.example.kh/{doc}")
    return record(f"nw-{doc}-p{par}", body, source=f"news:{doc}:p{par}", **fields)


def messages(result: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for p in result.problems:
        out.setdefault(p.line, []).append(p.message)
    return out


# ---------------------------------------------------------------- cta_type validation


def test_cta_type_is_checked_against_call_to_action(tmp_path: Path) -> None:
    rows = [
        record("c-1", call_to_action=True, cta_type=["engage", "report"]),  # fine
        record("c-2", call_to_action=False, cta_type=[]),  # fine
        record("c-3", call_to_action=True),  # absent: not judged, fine
        record("c-4", call_to_action=True, cta_type=None),  # null: not judged, fine
        record("c-5", call_to_action=True, cta_type=[]),  # true needs a label
        record("c-6", call_to_action=False, cta_type=["engage"]),  # only where true
        record("c-7", call_to_action=True, cta_type=["share"]),  # unknown label
        record("c-8", call_to_action=True, cta_type=["vote", "vote"]),  # repeated
        record("c-9", call_to_action=True, cta_type="engage"),  # not a list
        record("c-10", call_to_action=None, cta_type=["comply"]),  # call_to_action not judged
        record("c-11", call_to_action=False, relayed_appeal=True),  # relayed only on a call to action
    ]
    found = messages(annolib.validate_files([write(tmp_path / "a.jsonl", rows)]))
    assert set(found) == {5, 6, 7, 8, 9, 10, 11}, found
    assert any("at least one label" in m for m in found[5])
    assert any("call_to_action is false" in m for m in found[6])
    assert any("unknown label(s) ['share']" in m for m in found[7])
    assert any("listed twice ['vote']" in m for m in found[8])
    assert any("expected a list" in m for m in found[9])
    assert any("not judged" in m for m in found[10])
    assert any("relayed_appeal" in m for m in found[11])
    # a second pass is checked the same way
    pass2 = [{"id": "p-1", "topics": [], "sentiment": "neutral", "call_to_action": False, "cta_type": ["attend"]}]
    result = annolib.validate_files([write(tmp_path / "pass2_X.jsonl", pass2)], labels_only=True)
    assert [p.line for p in result.problems] == [1]


def test_every_allowed_cta_type_label_passes(tmp_path: Path) -> None:
    assert annolib.CTA_TYPES == (
        "engage", "attend", "contact", "report", "use_service", "comply", "vote", "donate", "other",
    )
    rows = [record(f"ok-{i}", call_to_action=True, cta_type=[label]) for i, label in enumerate(annolib.CTA_TYPES)]
    rows.append(record("ok-all", call_to_action=True, cta_type=list(annolib.CTA_TYPES)))
    assert annolib.validate_files([write(tmp_path / "a.jsonl", rows)]).ok


def test_overlay_files_are_validated_as_overlays(tmp_path: Path) -> None:
    base = write(tmp_path / "real_01.jsonl", [record("r-1", call_to_action=True), record("r-2", call_to_action=True)])
    good = write(tmp_path / "cta_type_r1_01.jsonl", [
        {"id": "r-1", "cta_type": ["engage"], "annotator": "C1", "note": "share"},
    ])
    result = annolib.validate_files([base, good])
    assert result.ok, result.problems
    assert [r.id for r in result.records] == ["r-1", "r-2"]  # overlay lines are not records
    assert [r.id for r in result.overlays] == ["r-1"]
    bad = write(tmp_path / "cta_type_r1_02.jsonl", [
        {"id": "r-2", "cta_type": [], "annotator": "C2"},  # empty
        {"id": "r-9", "cta_type": ["comply"], "annotator": "C2"},  # no such record
        {"id": "r-1", "cta_type": ["comply"], "annotator": "C2"},  # twice across overlays
        {"id": "r-2", "cta_type": ["attend"]},  # no annotator (and twice)
        {"id": "r-3", "cta_type": ["attend"], "annotator": "C2", "topics": []},  # unknown field
    ])
    found = messages(annolib.validate_files([base, good, bad]))
    assert any("at least one label" in m for m in found[1])
    assert any("no annotation file given holds" in m for m in found[2])
    assert any("duplicate cta_type overlay" in m for m in found[3])
    assert any("'annotator'" in m for m in found[4])
    assert any("unknown field" in m for m in found[5])
    # alone, an overlay file cannot say which records exist: only its own checks
    assert annolib.validate_files([good]).ok
    with pytest.raises(annolib.DataValidationError):
        annolib.load_overlays([bad])


# ---------------------------------------------------------------- news and web record formats


def test_news_and_web_record_formats(tmp_path: Path) -> None:
    rows = [
        news("211628", 3, "ក្រសួងសុខាភិបាលអំពាវនាវ", docId="211628", paragraph=3, category="health"),  # fine
        record("ow-17", "គេហទំព័រ", source="oscar_web_lines"),  # fine
        record("nw-1-p1", "ព័ត៌មាន", source="news:1:p1"),  # no url
        record("nw-1-p2", "ព័ត៌មាន", source="news:1:p3", url="https://a.kh/1"),  # id and source disagree
        record("nw-2", "ព័ត៌មាន", source="news_2019_articles", url="https://a.kh/2"),  # not the format
        news("5", 0, "ព័ត៌មាន", docId="6"),  # docId field disagrees
        news("7", 1, "ព័ត៌មាន", provenance="authored"),  # news is corpus text
        record("ow-x", "គេហទំព័រ", source="oscar_web_lines"),  # web id
        record("ow-9", "គេហទំព័រ", source="oscar_web_lines:9"),  # web source
        news("8", 2, "ព័ត៌មាន", url="not a url"),
        news("9", 4, "ព័ត៌មាន", docId="9", paragraph="4", genre="news"),  # fine: fields of a CSV dump
        news("9", 5, "ព័ត៌មាន", paragraph=6),  # paragraph field disagrees
    ]
    found = messages(annolib.validate_files([write(tmp_path / "r2.jsonl", rows)]))
    assert set(found) == {3, 4, 5, 6, 7, 8, 9, 10, 12}, found
    assert any("'paragraph'" in m for m in found[12])
    assert any("'url'" in m for m in found[3])
    assert any("expected 'nw-1-p3'" in m for m in found[4])
    assert any("news:<docId>:p<paragraph index>" in m for m in found[5])
    assert any("'docId'" in m for m in found[6])
    assert any("provenance is 'corpus'" in m for m in found[7])
    assert any("ow-<line number>" in m for m in found[8])
    assert any("'source' of a web line" in m for m in found[9])
    assert any("'url'" in m for m in found[10])
    assert annolib.news_source(rows[0]) == ("211628", 3)
    assert annolib.doc_id_of(rows[0]) == "news:211628"
    assert annolib.doc_id_of(rows[1]) is None and annolib.news_source(rows[1]) is None


# ---------------------------------------------------------------- genres


@pytest.mark.parametrize(
    ("fields", "genre"),
    [
        ({"source": "rdlab_wild_khmer_sentences"}, "textbook"),
        ({"source": "khmer_wikipedia_5k"}, "wikipedia"),
        ({"source": "news:211628:p3", "url": "https://a.kh"}, "news"),
        ({"source": "oscar_web_lines"}, "web"),
        ({"source": "authored:citizen-comment", "provenance": "authored"}, "authored_comment"),
        ({"source": "authored:comment", "provenance": "authored"}, "authored_comment"),
        ({"source": "authored:qa-thread", "provenance": "authored"}, "authored_comment"),
        ({"source": "authored:page-post", "provenance": "authored"}, "authored_post"),
        ({"source": "authored:news-caption", "provenance": "authored"}, "authored_post"),
        ({"source": "authored:ad", "provenance": "authored", "genre": "spam-loan"}, "authored_post"),
        ({"source": "authored:comment", "provenance": "authored", "genre": "romanized-comment"}, "romanized"),
        ({"source": "authored:group-post", "provenance": "authored", "genre": "code-mixed"}, "romanized"),
        ({"source": "authored:page-post", "provenance": "authored", "genre": "romanized-vaccine-day"}, "romanized"),
        ({"source": "authored:comment", "provenance": "authored", "genre": "english-comment"}, "authored_comment"),
        ({"source": "oscar_web_lines", "script": "code-mixed"}, "romanized"),
        ({"source": "rdlab_wild_khmer_sentences", "genre": "romanized"}, "textbook"),  # tags only on authored text
        ({"source": "some_new_corpus"}, "other"),
    ],
)
def test_genre_mapping(fields: dict[str, Any], genre: str) -> None:
    assert annolib.genre_of(record("g-1", **fields)) == genre
    assert genre in annolib.GENRES


def test_every_genre_tool_uses_the_one_mapping() -> None:
    # the tools import genre_of from annolib rather than defining their own
    here = annolib.genre_of.__code__
    for tool in (agreement, make_splits, counts, data_card):
        code = tool.genre_of.__code__
        assert (code.co_filename, code.co_firstlineno) == (here.co_filename, here.co_firstlineno), tool.__name__


# ---------------------------------------------------------------- adjudication with overlays


def _first_pass() -> list[dict[str, Any]]:
    return [
        record("a-1", "សូមចែករំលែក", call_to_action=True),  # typed by an overlay
        record("a-2", "ព័ត៌មាន"),  # false: []
        record("a-3", "សូមមក", call_to_action=True),  # no overlay yet: null
        record("a-4", "សូមចុះឈ្មោះ", call_to_action=True, cta_type=["use_service"]),  # typed inline (round 2)
        record("a-5", "សូមចូលរួម", call_to_action=False, cta_type=[]),  # flipped to true by a decision
        record("a-6", "កុំ", call_to_action=True, cta_type=["comply"]),  # flipped to false by a decision
        record("a-7", "ព័ត៌មាន", call_to_action=None, topics=None, sentiment=None),  # not judged
    ]


def test_overlays_and_decisions_give_the_final_cta_type() -> None:
    rows = _first_pass()
    overlays = {"a-1": {"id": "a-1", "cta_type": ["report", "engage", "engage"], "annotator": "C1"}}
    decisions = {
        "a-1": {"id": "a-1", "sentiment": "positive", "reason": "cheerful appeal"},
        "a-4": {"id": "a-4", "cta_type": ["attend", "use_service"], "reason": "both asked"},
        "a-5": {"id": "a-5", "call_to_action": True, "reason": "invitation to the public"},
        "a-6": {"id": "a-6", "call_to_action": False, "reason": "addressed to officials only"},
    }
    merged = {r["id"]: r for r in adjudicate.merge(rows, decisions, overlays)}
    assert merged["a-1"]["cta_type"] == ["engage", "report"]  # sorted, repeats dropped
    assert merged["a-2"]["cta_type"] == []
    assert merged["a-3"]["cta_type"] is None
    assert merged["a-4"]["cta_type"] == ["attend", "use_service"]
    assert merged["a-4"]["first_pass"]["cta_type"] == ["use_service"]  # what the decision changed
    assert merged["a-5"]["call_to_action"] is True and merged["a-5"]["cta_type"] is None  # its [] was no judgement
    assert merged["a-6"]["cta_type"] == [] and merged["a-6"]["first_pass"]["cta_type"] == ["comply"]
    assert merged["a-7"]["cta_type"] is None
    for r in merged.values():  # the field sits right after call_to_action
        keys = list(r)
        assert keys[keys.index("call_to_action") + 1] == "cta_type"
    assert merged["a-5"]["first_pass"]["cta_type"] == []
    assert "cta_type" not in merged["a-1"]["first_pass"]  # unchanged by the decision: not repeated
    assert merged["a-1"]["cta_type"] == ["engage", "report"] and merged["a-1"]["sentiment"] == "positive"
    assert rows[0].get("cta_type") is None and "cta_type" not in rows[0]  # inputs untouched


def test_decisions_set_and_remove_relayed_appeal() -> None:
    rows = _first_pass()
    rows[3]["relayed_appeal"] = True  # a-4: first pass marked it; the decision removes it
    rows[5]["relayed_appeal"] = True  # a-6: the decision turns call_to_action false, so the mark goes
    decisions = {
        "a-4": {"id": "a-4", "relayed_appeal": False, "reason": "a company's appeal"},
        "a-5": {"id": "a-5", "call_to_action": True, "cta_type": ["attend"], "relayed_appeal": True, "reason": "r"},
        "a-6": {"id": "a-6", "call_to_action": False, "reason": "addressed to officials only"},
    }
    merged = {r["id"]: r for r in adjudicate.merge(rows, decisions)}
    assert "relayed_appeal" not in merged["a-4"] and "relayed_appeal" not in merged["a-6"]
    keys = list(merged["a-5"])
    assert merged["a-5"]["relayed_appeal"] is True and keys[keys.index("cta_type") + 1] == "relayed_appeal"
    with pytest.raises(adjudicate.MergeError, match="relayed appeal"):
        adjudicate.merge(rows, {"a-2": {"id": "a-2", "relayed_appeal": True, "reason": "r"}})


def test_overlays_only_add_the_cta_type_field() -> None:
    rows = _first_pass()[:3]
    decisions = {"a-2": {"id": "a-2", "sentiment": "negative", "reason": "an accident"}}
    without = adjudicate.merge(rows, decisions)
    with_overlay = adjudicate.merge(rows, decisions, {"a-1": {"id": "a-1", "cta_type": ["engage"], "annotator": "C1"}})
    for a, b in zip(without, with_overlay):
        a.pop("cta_type")
        b.pop("cta_type")
        assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


@pytest.mark.parametrize(
    ("overlays", "decisions", "fragment"),
    [
        ({"a-2": {"id": "a-2", "cta_type": ["engage"], "annotator": "C"}}, {}, "final call_to_action is false"),
        ({"a-1": {"id": "a-1", "cta_type": ["engage"], "annotator": "C"}},
         {"a-1": {"id": "a-1", "call_to_action": False, "reason": "r"}}, "final call_to_action is false"),
        ({"a-4": {"id": "a-4", "cta_type": ["engage"], "annotator": "C"}}, {}, "in an overlay"),
        ({}, {"a-2": {"id": "a-2", "cta_type": ["engage"], "reason": "r"}}, "call_to_action is false"),
        ({}, {"a-1": {"id": "a-1", "cta_type": [], "reason": "r"}}, "call_to_action is true"),
        ({"a-7": {"id": "a-7", "cta_type": ["engage"], "annotator": "C"}}, {}, "not judged"),
    ],
)
def test_contradictory_cta_type_is_an_error(overlays: dict, decisions: dict, fragment: str) -> None:
    with pytest.raises(adjudicate.MergeError) as info:
        adjudicate.merge(_first_pass(), decisions, overlays)
    assert any(fragment in m for m in info.value.messages), info.value.messages


def test_adjudicate_cli_merges_overlays_from_the_annotation_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "annotations"
    folder.mkdir()
    write(folder / "real_01.jsonl", [record("a-1", "សូមចែករំលែក", call_to_action=True), record("a-2", "ព័ត៌មាន")])
    overlay = write(folder / "cta_type_r1_01.jsonl", [{"id": "a-1", "cta_type": ["engage"], "annotator": "C1"}])
    out = tmp_path / "annotated.jsonl"
    files = [str(p) for p in sorted(folder.glob("*.jsonl"))]
    assert adjudicate.main(["--annotations", *files, "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["cta_type"] for r in lines] == [["engage"], []]
    assert "1 cta_type overlay line(s) merged" in capsys.readouterr().out
    # an overlay naming a text whose call_to_action is false fails the merge
    write(overlay, [{"id": "a-2", "cta_type": ["engage"], "annotator": "C1"}])
    assert adjudicate.main(["--annotations", *files, "--out", str(out)]) == 1
    # and an overlay for an unknown id fails validation
    write(overlay, [{"id": "zz", "cta_type": ["engage"], "annotator": "C1"}])
    assert adjudicate.main(["--annotations", *files, "--out", str(out)]) == 1
    # --strict: a call to action still without cta_type
    overlay.unlink()
    files = [str(p) for p in sorted(folder.glob("*.jsonl"))]
    assert adjudicate.main(["--annotations", *files, "--out", str(out)]) == 0
    assert adjudicate.main(["--annotations", *files, "--out", str(out), "--strict"]) == 1


def test_cta_type_decisions_are_read_and_checked(tmp_path: Path) -> None:
    ok = write(tmp_path / "adj.jsonl", [{"id": "a-1", "cta_type": ["comply"], "reason": "advice"}])
    assert set(adjudicate.read_decisions([ok])) == {"a-1"}
    for bad in (
        [{"id": "a-1", "cta_type": ["share"], "reason": "x"}],
        [{"id": "a-1", "cta_type": None, "reason": "x"}],
        [{"id": "a-1", "cta_type": ["comply", "comply"], "reason": "x"}],
    ):
        with pytest.raises(annolib.DataValidationError):
            adjudicate.read_decisions([write(tmp_path / "bad.jsonl", bad)])


# ---------------------------------------------------------------- agreement


def _cta_pair(i: int, first: list[str] | None, second: list[str] | None, **extra: Any) -> tuple[dict, dict]:
    a = record(f"k-{i}", f"សូម {i}", call_to_action=first is not None and extra.get("cta1", True), cta_type=first,
               annotator="R1", **{k: v for k, v in extra.items() if k != "cta1" and k != "cta2"})
    b = {"id": f"k-{i}", "topics": [], "sentiment": "neutral", "call_to_action": extra.get("cta2", True),
         "cta_type": second, "annotator": "Q"}
    return a, b


def test_cta_type_kappa_matches_a_hand_computation() -> None:
    pairs = [
        _cta_pair(1, ["engage"], ["engage"]),
        _cta_pair(2, ["engage", "report"], ["engage"]),
        _cta_pair(3, ["comply"], ["comply"]),
        _cta_pair(4, ["use_service"], ["attend"]),
        _cta_pair(5, ["comply"], ["comply", "report"]),
        _cta_pair(6, ["engage"], [], cta2=False),  # second pass says no call to action: not compared
        _cta_pair(7, ["engage"], None),  # cta_type not judged in the second pass: not compared
    ]
    first = [annolib.LocatedRecord(a, "f", i) for i, (a, _) in enumerate(pairs, 1)]
    second = [annolib.LocatedRecord(b, "s", i) for i, (_, b) in enumerate(pairs, 1)]
    report, sheet = agreement.compute_agreement(first, second, samples=0)
    c = report["groups"]["all"]["cta_type"]
    assert c["n"] == 5
    assert c["exact_match"] == pytest.approx(2 / 5, abs=1e-4)
    per = c["per_label"]
    assert per["engage"]["kappa"] == pytest.approx(1.0)
    assert per["comply"]["kappa"] == pytest.approx(1.0)
    # report: first yes on 2, second yes on 5 -> po 3/5, pe .2*.2 + .8*.8 = .68 -> (.6-.68)/.32
    assert per["report"]["kappa"] == pytest.approx(-0.25, abs=1e-4)
    # use_service only in the first pass, attend only in the second: po .8 = pe .8 -> 0
    assert per["use_service"]["kappa"] == pytest.approx(0.0, abs=1e-4)
    assert per["attend"]["kappa"] == pytest.approx(0.0, abs=1e-4)
    for label in ("contact", "vote", "donate", "other"):
        assert per[label]["kappa"] is None  # nobody used it: undefined
    assert c["macro_kappa"] == pytest.approx((1 + 1 - 0.25 + 0 + 0) / 5, abs=1e-4)
    # pooled over 45 decisions: 6 yes each, 4 disagreements -> po 41/45, pe (6^2 + 39^2)/45^2 -> 288/468
    assert c["pooled_kappa"] == pytest.approx(288 / 468, abs=1e-4)
    # the sheet flags cta_type where both passes say call to action; k-6 is a call_to_action disagreement
    differs = {row["id"]: row["differs"] for row in sheet}
    assert differs == {
        "k-2": ["cta_type"], "k-4": ["cta_type"], "k-5": ["cta_type"], "k-6": ["call_to_action"],
    }
    assert sheet[0]["first"]["cta_type"] == ["engage", "report"] and sheet[0]["second"]["cta_type"] == ["engage"]


def test_agreement_is_given_per_genre(tmp_path: Path) -> None:
    rng = random.Random(4)
    first, second = [], []
    sources = {"textbook": "rdlab_wild_khmer_sentences", "news": None, "authored_comment": "authored:citizen-comment"}
    for i in range(90):
        genre = list(sources)[i % 3]
        sentiment = rng.choice(annolib.SENTIMENTS)
        if genre == "news":
            r = news(str(i), 0, random_text(rng, 12), sentiment=sentiment)
        else:
            r = record(f"x-{i}", random_text(rng, 12), sentiment=sentiment, source=sources[genre],
                       provenance="authored" if genre.startswith("authored") else "corpus")
        first.append(r)
        flip = genre == "news" and i % 2 == 0  # news disagrees more
        other = [s for s in annolib.SENTIMENTS if s != sentiment][0]
        second.append({"id": r["id"], "topics": [], "sentiment": other if flip else sentiment, "call_to_action": False})
    f = annolib.load_records([write(tmp_path / "first.jsonl", first)])
    s = annolib.load_records([write(tmp_path / "pass2.jsonl", second)], labels_only=True)
    report, _ = agreement.compute_agreement(f, s, samples=0)
    groups = report["groups"]
    assert {"genre=textbook", "genre=news", "genre=authored_comment"} <= set(groups)
    assert groups["genre=news"]["items"] == 30
    assert groups["genre=textbook"]["sentiment"]["kappa"] == pytest.approx(1.0)
    assert groups["genre=news"]["sentiment"]["agreement"] == pytest.approx(0.5)
    out = tmp_path / "agr"
    assert agreement.main(["--first", str(tmp_path / "first.jsonl"), "--second", str(tmp_path / "pass2.jsonl"),
                           "--out", str(out), "--bootstrap", "10"]) == 0
    md = (out / "agreement.md").read_text(encoding="utf-8")
    assert "| genre=news | 30 |" in md and "## cta_type" in md


# ---------------------------------------------------------------- splits


def _articles(n_docs: int, seed: int, start: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for d in range(start, start + n_docs):
        for p in range(rng.randint(1, 5)):
            rows.append(news(str(d), p, random_text(rng, 12), call_to_action=rng.random() < 0.3,
                             sentiment=rng.choice(annolib.SENTIMENTS)))
    return rows


def _round1(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        record(f"r1-{i}", random_text(rng, 12), sentiment=rng.choice(annolib.SENTIMENTS), call_to_action=rng.random() < 0.3,
               provenance="authored" if i % 3 == 0 else "corpus",
               source="authored:page-post" if i % 3 == 0 else "rdlab_wild_khmer_sentences")
        for i in range(n)
    ]


def test_paragraphs_of_one_article_share_a_split() -> None:
    rows = _articles(120, seed=1)
    splits, summary = make_splits.make_splits(rows, seed=13)
    split_of_doc: dict[str, set[str]] = {}
    for name, members in splits.items():
        for r in members:
            split_of_doc.setdefault(annolib.doc_id_of(r), set()).add(name)
    assert len(split_of_doc) == 120
    assert all(len(s) == 1 for s in split_of_doc.values())
    assert summary["articles"] == 120 and summary["records_in_multi_paragraph_articles"] > 0
    # without the article rule the same data would cross splits: the rule is what keeps them together
    groups = make_splits.near_duplicate_groups([r["text"] for r in rows])
    assignment = make_splits.assign_splits(rows, groups, seed=13)
    crossing = {}
    for r, s in zip(rows, assignment):
        crossing.setdefault(annolib.doc_id_of(r), set()).add(s)
    assert any(len(s) > 1 for s in crossing.values())


def test_kept_splits_stay_and_new_texts_follow_their_near_duplicates() -> None:
    old = _round1(200, seed=2)
    first, _ = make_splits.make_splits(old, seed=13)
    kept = {r["id"]: name for name, members in first.items() for r in members}
    rng = random.Random(9)
    test_text = first["test"][0]["text"]
    new = _articles(60, seed=3) + [
        record("ow-1", test_text + " ណាស់", source="oscar_web_lines"),  # a near copy of a kept test text
        record("ow-2", random_text(rng, 12), source="oscar_web_lines"),
    ]
    splits, summary = make_splits.make_splits(old + new, seed=7, kept=kept)
    now = {r["id"]: name for name, members in splits.items() for r in members}
    assert all(now[i] == s for i, s in kept.items())  # every kept id where it was, whatever the seed
    assert now["ow-1"] == "test"
    assert summary["kept_records"] == 200 and summary["excluded"] == []
    assert sum(len(v) for v in splits.values()) == len(old) + len(new)
    # the same inputs give the same splits
    again, _ = make_splits.make_splits(old + new, seed=7, kept=kept)
    assert {n: [r["id"] for r in v] for n, v in again.items()} == {n: [r["id"] for r in v] for n, v in splits.items()}


def test_new_texts_to_one_split_leave_the_others_exactly_as_kept() -> None:
    old = _round1(200, seed=2)
    first, _ = make_splits.make_splits(old, seed=13)
    kept = {r["id"]: name for name, members in first.items() for r in members}
    rng = random.Random(9)
    new = _articles(40, seed=3) + [
        record("ow-1", first["test"][0]["text"] + " ណាស់", source="oscar_web_lines"),  # near copy of a kept test text
        record("ow-2", first["train"][0]["text"] + " ណាស់", source="oscar_web_lines"),  # ... of a kept train text
        record("ow-3", random_text(rng, 12), source="oscar_web_lines"),
    ]
    splits, summary = make_splits.make_splits(old + new, seed=7, kept=kept, new_texts_to="train")
    ids = {name: [r["id"] for r in v] for name, v in splits.items()}
    for name in ("dev", "test"):  # byte for byte the kept splits, in input order
        assert ids[name] == [r["id"] for r in first[name]]
    assert "ow-2" in ids["train"] and "ow-3" in ids["train"]
    left_out = {e["id"] for e in summary["excluded"]}
    assert "ow-1" in left_out and not left_out & set(ids["train"])
    placed = sum(len(v) for v in ids.values()) - len(old)
    assert summary["new_texts_to"] == {"split": "train", "new_texts": len(new), "placed": placed}
    assert placed + len(left_out) == len(new)
    with pytest.raises(make_splits.SplitError, match="kept ids"):
        make_splits.make_splits(new, seed=7, new_texts_to="train")


def test_a_new_text_linking_kept_texts_of_two_splits_is_left_out() -> None:
    words = "សាលារៀន គ្រូបង្រៀន សិស្ស មណ្ឌលសុខភាព ពេទ្យ ថ្នាំ ឃុំ សង្កាត់ មេភូមិ ផ្លូវ ទឹក ភ្លើង".split()
    a = " ".join(words)
    b = " ".join(words[:8] + ["ល្អណាស់", "អាក្រក់", "ប្រជាពលរដ្ឋ", "ថ្ងៃនេះ"])
    bridge = " ".join(words[:10] + ["ប្រជាពលរដ្ឋ", "ថ្ងៃនេះ"])
    grams = lambda t: make_splits.shingles(annolib.match_key(t), 5)  # noqa: E731
    jac = lambda x, y: len(grams(x) & grams(y)) / len(grams(x) | grams(y))  # noqa: E731
    assert jac(a, b) < 0.6 <= min(jac(a, bridge), jac(b, bridge))  # the premise of the test
    rows = [record("k-a", a), record("k-b", b), record("n-1", bridge)]
    rows += [record(f"f-{i}", random_text(random.Random(i), 12)) for i in range(10)]
    splits, summary = make_splits.make_splits(rows, seed=1, kept={"k-a": "train", "k-b": "test"})
    ids = {name: {r["id"] for r in v} for name, v in splits.items()}
    assert "k-a" in ids["train"] and "k-b" in ids["test"]
    assert all("n-1" not in v for v in ids.values())
    assert [e["id"] for e in summary["excluded"]] == ["n-1"]
    with pytest.raises(make_splits.SplitError):
        make_splits.make_splits(rows, seed=1, kept={"k-a": "train", "gone": "test"})
    with pytest.raises(make_splits.SplitError):  # kept near-duplicates in two splits cannot be honoured
        make_splits.make_splits([record("k-a", a), record("k-c", a + " ។")], seed=1, kept={"k-a": "train", "k-c": "test"})


@pytest.mark.parametrize(("docs", "met"), [(700, True), (150, False)])
def test_test_split_gains_the_news_web_target_when_round_2_is_large_enough(docs: int, met: bool) -> None:
    old = _round1(300, seed=5)
    first, _ = make_splits.make_splits(old, seed=13)
    kept = {r["id"]: name for name, members in first.items() for r in members}
    new = _articles(docs, seed=6) + [record(f"ow-{i}", random_text(random.Random(i), 12), source="oscar_web_lines") for i in range(1, 200)]
    splits, summary = make_splits.make_splits(old + new, seed=13, kept=kept, test_news_web=600)
    new_ids = {r["id"] for r in new}
    gained = sum(1 for r in splits["test"] if r["id"] in new_ids)
    info = summary["test_news_web"]
    assert info["gained_by_test"] == gained and info["met"] is met
    if met:
        assert gained >= 600
        web_test = sum(1 for r in splits["test"] if r["id"].startswith("ow-"))
        assert web_test > 0.1 * 199  # web lines get their share of test too
    else:
        assert gained <= 0.3 * len(new) + 5  # never more than the cap (a few over from whole articles)
    # a smaller target is honoured as well
    _, small = make_splits.make_splits(old + new, seed=13, kept=kept, test_news_web=50)
    assert small["test_news_web"]["met"]


def test_make_splits_cli_keep_freeze_and_manifest(tmp_path: Path) -> None:
    old = _round1(120, seed=8)
    data = write(tmp_path / "annotated.jsonl", old)
    assert make_splits.main(["--data", str(data), "--out", str(tmp_path / "s1"), "--freeze", str(tmp_path / "ids.json")]) == 0
    frozen = json.loads((tmp_path / "ids.json").read_text(encoding="utf-8"))
    assert sorted(sum(frozen.values(), [])) == sorted(r["id"] for r in old)
    data = write(tmp_path / "annotated.jsonl", old + _articles(40, seed=9))
    out = tmp_path / "s2"
    assert make_splits.main(["--data", str(data), "--out", str(out), "--keep", str(tmp_path / "ids.json"),
                             "--test-news-web", "20", "--seed", "3"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kept"]["records"] == 120
    assert manifest["kept"]["ids_sha256"]["test"] == make_splits.ids_digest(frozen["test"])
    assert manifest["test_news_web"]["target"] == 20 and manifest["test_news_web"]["met"]
    test_ids = [json.loads(x)["id"] for x in (out / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert set(frozen["test"]) <= set(test_ids)
    # a folder of earlier split files works as --keep too
    assert make_splits.read_kept_ids(tmp_path / "s1") == make_splits.read_kept_ids(tmp_path / "ids.json")


# ---------------------------------------------------------------- counts


def test_counts_and_targets(tmp_path: Path) -> None:
    old = [record("r1-1", "ចាស់", call_to_action=True, cta_type=["engage"])]
    new = [
        news("1", 0, "ក្រសួងអំពាវនាវ", call_to_action=True, cta_type=["use_service"], relayed_appeal=True,
             topics=["health"], sentiment="negative"),
        news("1", 1, "ព័ត៌មាន", topics=["local_administration"], sentiment="positive"),
        news("2", 0, "ព័ត៌មានថ្មី", call_to_action=True, cta_type=["comply", "report"], topics=["education"]),
        record("ow-3", "គេហទំព័រ", source="oscar_web_lines", call_to_action=True, cta_type=None),
        record("au-9", "ថ្មី", source="authored:page-post", provenance="authored", call_to_action=True,
               cta_type=["attend"]),
    ]
    data = write(tmp_path / "annotated.jsonl", old + new)
    round1 = tmp_path / "round1_ids.json"
    round1.write_text(json.dumps({"train": ["r1-1"], "dev": [], "test": []}), encoding="utf-8")
    splits = tmp_path / "splits"
    splits.mkdir()
    write(splits / "train.jsonl", [old[0], new[0], new[1]])
    write(splits / "dev.jsonl", [new[4]])
    write(splits / "test.jsonl", [new[2], new[3]])
    batches = tmp_path / "batches"
    batches.mkdir()
    write(batches / "r2_01.jsonl", [{"id": "nw-2-p0", "cue": "random"}, {"id": "ow-3", "cue": "model:health"}])
    (batches / "round2.csv").write_text(  # a khmer-civic select batch
        "id,text,selection,selection_quota\nnw-1-p1,x,random,\nnw-1-p0,y,uncertain,genre=news\n", encoding="utf-8"
    )
    out_json = tmp_path / "counts.json"
    assert counts.main(["--data", str(data), "--splits", str(splits), "--round1", str(round1), "--batches",
                        str(batches), "--json", str(out_json)]) == 0
    figures = json.loads(out_json.read_text(encoding="utf-8"))
    news_new = figures["new"]["news"]
    assert news_new["all"]["texts"] == 3 and news_new["train"]["texts"] == 2 and news_new["test"]["texts"] == 1
    assert news_new["all"]["call_to_action"] == 2 and news_new["all"]["relayed"] == 1
    assert news_new["all"]["random"] == 2 and news_new["test"]["random"] == 1 and news_new["train"]["random"] == 1
    assert news_new["all"]["cta_type"]["comply"] == 1 and news_new["all"]["cta_type"]["use_service"] == 1
    assert figures["new"]["web"]["all"]["cta_without_type"] == 1
    assert "authored_post" in figures["new"] and "textbook" not in figures["new"]  # r1-1 is not new
    assert figures["all"]["all"]["all"]["texts"] == 6
    targets = {row["target"]: row for row in figures["targets"]}
    assert targets["new real texts"]["reached"] == 4  # the authored text is new but not real
    assert targets["news paragraphs"]["reached"] == 3 and targets["news paragraphs"]["status"] == "NOT met"
    assert targets["appeals relayed by news"]["reached"] == 1
    assert targets["test split gains news/web"]["reached"] == 2
    assert targets["round-1 test split unchanged"]["status"] == "met"
    assert targets["cta_type on every call to action"]["reached"] == 1
    assert targets["cta_type on every call to action"]["status"] == "NOT met"
    assert targets["annotated twice"]["status"] == "not measured"
    assert counts.main(["--data", str(data), "--round1", str(round1), "--require"]) == 1
    # moving a round-1 text into test breaks the round-1 split
    write(splits / "test.jsonl", [new[2], new[3], old[0]])
    write(splits / "train.jsonl", [new[0], new[1]])
    assert counts.main(["--data", str(data), "--splits", str(splits), "--round1", str(round1), "--json",
                        str(out_json)]) == 0
    targets = {row["target"]: row for row in json.loads(out_json.read_text(encoding="utf-8"))["targets"]}
    assert targets["round-1 test split unchanged"]["status"] == "NOT met"


def test_counted_kappa_uses_only_new_real_texts(tmp_path: Path) -> None:
    rng = random.Random(2)
    first, second = [], []
    for i in range(40):
        s = rng.choice(annolib.SENTIMENTS)
        r = news(str(i), 0, random_text(rng, 12), sentiment=s) if i < 20 else record(f"r1-{i}", random_text(rng, 12), sentiment=s)
        first.append(r)
        s2 = s if i < 20 else [x for x in annolib.SENTIMENTS if x != s][0]  # round 1 disagrees everywhere
        second.append({"id": r["id"], "topics": [], "sentiment": s2, "call_to_action": False})
    ann = write(tmp_path / "real_01.jsonl", first)
    p2 = write(tmp_path / "pass2_Q2.jsonl", second)
    round1 = tmp_path / "r1.json"
    round1.write_text(json.dumps({"train": [r["id"] for r in first[20:]]}), encoding="utf-8")
    out = tmp_path / "c.json"
    assert counts.main(["--data", str(ann), "--round1", str(round1), "--annotations", str(ann), "--second", str(p2),
                        "--json", str(out)]) == 0
    targets = {row["target"]: row for row in json.loads(out.read_text(encoding="utf-8"))["targets"]}
    assert targets["kappa sentiment (new real texts, n=20)"]["reached"] == pytest.approx(1.0)
    assert targets["annotated twice"]["reached"] == 20


# ---------------------------------------------------------------- data card


def test_data_card_reports_genres_cta_type_and_news_licence(tmp_path: Path) -> None:
    rows = [
        record("rd-1", "សៀវភៅ", call_to_action=True, cta_type=["other"]),
        record("rd-2", "សៀវភៅថ្មី", call_to_action=False, cta_type=[]),
        news("77", 2, "ក្រសួងអំពាវនាវ", call_to_action=True, cta_type=["use_service", "comply"]),
        record("au-1", "ឃុំ", source="authored:citizen-comment", provenance="authored", call_to_action=True,
               cta_type=["engage"]),
    ]
    card = data_card.render(rows, "x", None, None, None, {})
    assert "| news | 1 |" in card  # genre table
    assert "`news:<docId>:p<index>` (1 articles) | 1 | No licence: the publishers hold the copyright" in card
    assert "paragraph-size excerpts" in card and "URL" in card
    assert "| all | 3 | 0 | 1 (33.3%) |" in card  # cta_type: 3 calls to action, engage 1 of 3
    assert "oscar_web_lines**" in card and "not in the data yet" in card  # web licence still stated
    without_news = data_card.render(rows[:2], "x", None, None, None, {}, {"C1": 2, "C2": 1})
    assert "No news or web text yet" in without_news
    assert "3 calls to action typed in a separate pass" in without_news and "by C1 (2), C2 (1)" in without_news


# ---------------------------------------------------------------- the news/web pool


def test_pool_records_follow_the_agreed_format(tmp_path: Path) -> None:
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    article = {
        "docId": "42", "category": "cambodia", "url": "https://news.example.kh/42",
        "text": "ក្រសួងសុខាភិបាលអំពាវនាវ\nក្រសួងសុខាភិបាលអំពាវនាវ\n\n  ប្រជាពលរដ្ឋ​ត្រូវ​ចាក់វ៉ាក់សាំង​នៅមណ្ឌលសុខភាព  \nខ្លី",
    }
    (corpora / pool.NEWS_FILE).write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
    (corpora / pool.WEB_FILE).write_text("ក្នុង ការលេង កីឡា  តែងតែ មាន Bella  ranee\n✅✅\n", encoding="utf-8")
    out = tmp_path / "pool.jsonl"
    assert pool.main(["--corpora", str(corpora), "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["nw-42-p0", "nw-42-p3", "ow-1"]  # repeat, empty and short left out
    assert rows[1]["source"] == "news:42:p3" and rows[1]["url"] == article["url"]
    assert rows[1]["text"] == "ប្រជាពលរដ្ឋ​ត្រូវ​ចាក់វ៉ាក់សាំង​នៅមណ្ឌលសុខភាព"  # zero-width spaces kept
    assert rows[2]["text"] == "ក្នុងការលេងកីឡាតែងតែមាន Bella ranee"
    assert [annolib.genre_of(r) for r in rows] == [r["genre"] for r in rows] == ["news", "news", "web"]
    labelled = [{**r, "topics": [], "sentiment": "neutral", "call_to_action": False} for r in rows]
    assert annolib.validate_files([write(tmp_path / "labelled.jsonl", labelled)]).ok
