"""Cue, filtering and stratification logic of training/annotation/sample_candidates.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from annotation_tools import load_tool



@pytest.fixture(scope="module")
def sampler() -> ModuleType:
    return load_tool("sample_candidates", "sample_candidates")


PAD = " ការពិភាក្សាអំពីបញ្ហានេះបានធ្វើឡើងនៅថ្ងៃច័ន្ទ"  # neutral filler with no cue word


def test_cues_pick_topic_strata(sampler: ModuleType) -> None:
    strata, _ = sampler.cue_strata("សិស្សនៅសាលារៀនបឋមសិក្សាខ្វះគ្រូបង្រៀន" + PAD)
    assert "education" in strata
    strata, _ = sampler.cue_strata("មណ្ឌលសុខភាពនៅភូមិយើងខ្វះថ្នាំ" + PAD)
    assert "health" in strata
    strata, _ = sampler.cue_strata("ក្រុមប្រឹក្សាឃុំចេញសំបុត្រកំណើតឲ្យប្រជាពលរដ្ឋ" + PAD)
    assert "local_administration" in strata
    strata, _ = sampler.cue_strata("ក្របខណ្ឌច្បាប់ថ្មីនេះមានលក្ខខណ្ឌច្រើន" + PAD)
    assert not strata & {"education", "health", "local_administration"}


def test_homonyms_are_masked_and_flagged_as_hard_cases(sampler: ModuleType) -> None:
    strata, _ = sampler.cue_strata("ជនសង្ស័យត្រូវបានឃុំខ្លួននៅសាលាដំបូងខេត្ត" + PAD)
    assert "hard_case" in strata
    assert "local_administration" not in strata
    strata, _ = sampler.cue_strata("ប៉ូលីសអប់រំអ្នកបើកបរអំពីច្បាប់ចរាចរណ៍" + PAD)
    assert "hard_case" in strata and "education" not in strata


def test_call_to_action_strength(sampler: ModuleType) -> None:
    strata, strong = sampler.cue_strata("សូមអញ្ជើញបងប្អូនចូលរួមវេទិកាសាធារណៈនៅថ្ងៃស្អែក")
    assert "call_to_action" in strata and strong
    strata, strong = sampler.cue_strata("ចូរពន្យល់ពីតួនាទីរបស់ក្រុមប្រឹក្សាឃុំ")
    assert "call_to_action" in strata and not strong
    strata, strong = sampler.cue_strata("ត្រូវបានគេរៀបចំឡើងដើម្បីពិភាក្សាអំពីផែនការ")
    assert "call_to_action" not in strata and not strong
    _, strong = sampler.cue_strata("សូម្បីតែកុំព្យូទ័រក៏មិនអាចដោះស្រាយបញ្ហានេះបាន")
    assert not strong


def test_filters_and_duplicate_keys(sampler: ModuleType) -> None:
    assert not sampler.keep_line("ជំពូកទី១")
    assert not sampler.keep_line("Chapter one of the civic education textbook, no Khmer at all")
    assert not sampler.keep_line("ក" * 601)
    assert sampler.keep_line("សិស្សនៅសាលារៀនបឋមសិក្សាខ្វះគ្រូបង្រៀន")
    assert sampler.near_duplicate_key("សិស្ស\u200bរៀន ។") == sampler.near_duplicate_key("សិស្សរៀន។")
    rows = [("rd-1", "សិស្សនៅសាលារៀនបឋមសិក្សាខ្វះគ្រូបង្រៀន។"), ("rd-2", "សិស្ស\u200bនៅសាលារៀន បឋមសិក្សាខ្វះគ្រូបង្រៀន ។")]
    kept, dropped = sampler.build_candidates(rows, "rdlab_wild_khmer_sentences")
    assert [c.candidate_id for c in kept] == ["rd-1"]
    assert dropped["duplicate"] == 1


def test_near_duplicate_index(sampler: ModuleType) -> None:
    index = sampler.NearDuplicateIndex(threshold=0.7)
    index.add("ក្រុមប្រឹក្សាឃុំបានប្រជុំជាមួយប្រជាពលរដ្ឋអំពីផែនការវិនិយោគឃុំឆ្នាំនេះ")
    assert index.is_near_duplicate("ក្រុមប្រឹក្សាឃុំបានប្រជុំជាមួយប្រជាពលរដ្ឋអំពីផែនការវិនិយោគឃុំឆ្នាំក្រោយ")
    assert not index.is_near_duplicate("មណ្ឌលសុខភាពបានចាក់វ៉ាក់សាំងឲ្យកុមារនៅភូមិនេះ")


def _synthetic_candidates(sampler: ModuleType, count: int) -> list:
    cue_words = ["សាលារៀន", "មណ្ឌលសុខភាព", "សង្កាត់", "សូមអញ្ជើញ", "ភ្លៀង", "ទីផ្សារ"]
    candidates = []
    for number in range(count):
        source_prefix = "wk" if number % 5 == 0 else "rd"
        # Distinct digits-and-letters keys so that no two texts are near duplicates.
        text = f"{cue_words[number % len(cue_words)]} លេខ{number:05d} {number * 7919 % 100003:06d} {number ** 2}"
        strata, strong = sampler.cue_strata(text)
        source = sampler.SOURCE_NAMES[source_prefix]
        candidates.append(sampler.Candidate(f"{source_prefix}-{number + 1}", text, source, strata, strong))
    return candidates


def test_pool_batches_and_agreement_sample(sampler: ModuleType) -> None:
    candidates = _synthetic_candidates(sampler, 3000)
    targets = {"education": 60, "health": 60, "local_administration": 60, "call_to_action": 40, "hard_case": 10}
    picked = sampler.sample_pool(candidates, seed=5, pool_size=400, targets=targets, wiki_share=0.15)
    ids = [candidate.candidate_id for candidate, _ in picked]
    assert len(ids) == 400 and len(set(ids)) == 400
    drawn = Counter(stratum for _, stratum in picked)
    assert drawn["random"] >= 100  # the random share, plus top-up once the cue targets are met
    for stratum in ("education", "health", "local_administration", "call_to_action"):
        assert sum(1 for candidate, _ in picked if stratum in candidate.strata) >= targets[stratum]
    assert sum(1 for candidate, _ in picked if candidate.source == "khmer_wikipedia_5k") >= 60

    again = sampler.sample_pool(candidates, seed=5, pool_size=400, targets=targets, wiki_share=0.15)
    assert [c.candidate_id for c, _ in again] == ids
    other = sampler.sample_pool(candidates, seed=6, pool_size=400, targets=targets, wiki_share=0.15)
    assert [c.candidate_id for c, _ in other] != ids

    batches = sampler.split_into_batches(picked, 4, seed=5)
    assert sorted(len(batch) for batch in batches) == [100, 100, 100, 100]
    for batch in batches:
        per_stratum = Counter(stratum for _, stratum in batch)
        for stratum, total in drawn.items():
            assert abs(per_stratum[stratum] - total / 4) <= 1

    agreement = sampler.choose_agreement_sample(batches, 30, seed=5)
    assert len(agreement) == len(set(agreement)) == 30
    batch_of = {c.candidate_id: n for n, batch in enumerate(batches) for c, _ in batch}
    assert sorted(Counter(batch_of[i] for i in agreement).values()) == [7, 7, 8, 8]


def test_written_records(sampler: ModuleType, tmp_path: Path) -> None:
    candidates = _synthetic_candidates(sampler, 200)
    picked = sampler.sample_pool(candidates, seed=1, pool_size=40, targets={"education": 5}, wiki_share=0.0)
    batches = sampler.split_into_batches(picked, 2, seed=1)
    sampler.write_outputs(tmp_path, batches, ["rd-2"], "readme\n")
    records = [json.loads(line) for line in (tmp_path / "real_01.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 20
    texts = {c.candidate_id: c.text for c in candidates}
    for record in records:
        assert set(record) == {"id", "text", "source", "provenance", "cue"}
        assert record["provenance"] == "corpus"
        assert record["text"] == texts[record["id"]]
    assert (tmp_path / "agreement_sample_real.txt").read_text(encoding="utf-8") == "rd-2\n"
