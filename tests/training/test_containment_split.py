"""make_splits groups a text mostly contained in another with it (containment near-duplicates)."""

from __future__ import annotations

from annotation_tools import load_tool

make_splits = load_tool("make_splits")

LONG = (
    "ក្រសួងសុខាភិបាលអំពាវនាវឲ្យប្រជាពលរដ្ឋទាំងអស់ទៅចាក់វ៉ាក់សាំងដូសជំរុញនៅមណ្ឌលសុខភាពជិតផ្ទះ "
    "ដោយឥតគិតថ្លៃ ចាប់ពីថ្ងៃចន្ទនេះតទៅ ហើយសូមនាំយកប័ណ្ណចាក់វ៉ាក់សាំងមកជាមួយផង "
    "មន្ទីរពេទ្យបង្អែកខេត្តក៏នឹងបើកទ្វារទទួលអ្នកជំងឺនៅចុងសប្តាហ៍ផងដែរ"
)
CONTAINED = LONG[: len(LONG) // 2]  # half of the long text: Jaccard about 0.5, containment 1.0
OTHER = "សាលារៀនបឋមសិក្សានៅភូមិយើងខ្វះគ្រូបង្រៀនជាច្រើនឆ្នាំមកហើយ កូនៗរៀនមិនបានល្អទេ សូមក្រសួងជួយផង"


def _record(i: int, text: str) -> dict[str, object]:
    return {
        "id": f"au-test-{i:04d}", "text": text, "topics": [], "sentiment": "neutral", "call_to_action": False,
        "cta_type": [], "source": "authored:page-post", "provenance": "authored",
    }


def test_containment_groups_a_text_with_its_container() -> None:
    texts = [LONG, OTHER, CONTAINED]
    assert make_splits.near_duplicate_groups(texts, containment=0.0) == [0, 1, 2]  # Jaccard alone misses it
    assert make_splits.near_duplicate_groups(texts) == [0, 1, 0]
    short = [LONG, LONG[:30]]  # too short to count: stock phrases would chain unrelated texts
    assert make_splits.near_duplicate_groups(short) == [0, 1]


def test_containment_pairs_are_exact() -> None:
    keys = [make_splits.match_key(t) for t in (LONG, OTHER, CONTAINED, OTHER[5:])]
    grams = [make_splits.shingles(k, make_splits.SHINGLE_SIZE) for k in keys]
    brute = {
        (min(i, j), max(i, j))
        for i in range(4)
        for j in range(4)
        if i != j
        and len(grams[i]) <= len(grams[j])
        and len(grams[i]) >= make_splits.MIN_CONTAINED_GRAMS
        and len(grams[i] & grams[j]) >= make_splits.CONTAINMENT * len(grams[i])
    }
    assert set(make_splits.containment_pairs(grams)) == brute == {(0, 2), (1, 3)}


def test_contained_texts_land_in_one_split() -> None:
    records = [_record(0, LONG), _record(1, CONTAINED)] + [
        _record(i, f"{OTHER} {i} ផ្សេងៗ លេខ {i * 7919}") for i in range(2, 40)
    ]
    splits, _ = make_splits.make_splits(records, seed=13, test_news_web=0)
    where = {r["id"]: name for name, rows in splits.items() for r in rows}
    assert where["au-test-0000"] == where["au-test-0001"]
