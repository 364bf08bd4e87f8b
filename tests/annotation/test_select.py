"""Selection on synthetic pools: uncertainty, rare-label weights, k-centre diversity, the random share,
near-duplicates, quotas and determinism (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from khmer_civic.annotation.near_duplicates import NearDuplicateIndex, match_key, shingles
from khmer_civic.annotation.select import (
    RANDOM,
    UNCERTAIN,
    Pool,
    Quota,
    SelectionSettings,
    rarity_weights,
    score_pool,
    select,
    threshold_closeness,
)
from khmer_civic.schema import ModelSchema, TaskSpec

SCHEMA = ModelSchema(
    tasks=(
        TaskSpec("topics", "multi_label", ("education", "health"), "topics", thresholds={"education": 0.6}),
        TaskSpec("sentiment", "single_label", ("negative", "neutral", "positive"), "sentiment"),
        TaskSpec("call_to_action", "binary", ("false", "true"), "call_to_action", threshold=0.4),
    )
)
WORDS = "សាលា គ្រូ ពេទ្យ ឃុំ ផ្លូវ ទឹក ភ្លើង ស្រូវ ផ្សារ ស្ពាន ព្រៃ សិស្ស ថ្នាំ".split()


def distinct_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` texts far from each other in 5-gram terms."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=10)) + f" {i:04d}x{rng.integers(10**9)}" for i in range(n)]


def make_pool(
    n: int,
    *,
    cta: np.ndarray | None = None,
    topics: np.ndarray | None = None,
    sentiment: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    texts: list[str] | None = None,
    strata: dict[str, list[str]] | None = None,
) -> Pool:
    """A pool of ``n`` confident texts unless told otherwise."""
    rng = np.random.default_rng(1)
    probabilities = {
        "topics": topics if topics is not None else np.full((n, 2), 0.01),
        "sentiment": sentiment if sentiment is not None else np.tile([0.005, 0.99, 0.005], (n, 1)),
        "call_to_action": (cta if cta is not None else np.full(n, 0.01)).reshape(n, 1),
    }
    return Pool(
        ids=[f"t{i}" for i in range(n)],
        texts=texts if texts is not None else distinct_texts(n),
        rows=np.arange(n),
        probabilities=probabilities,
        embeddings=embeddings if embeddings is not None else rng.normal(size=(n, 8)).astype(np.float32),
        strata=strata or {},
    )


def test_threshold_closeness_is_one_at_the_threshold_and_zero_at_certainty() -> None:
    p = np.array([0.0, 0.2, 0.4, 0.7, 1.0])
    np.testing.assert_allclose(threshold_closeness(p, 0.4), [0.0, 0.5, 1.0, 0.5, 0.0])


def test_a_text_at_the_threshold_ranks_above_a_confident_one() -> None:
    cta = np.array([0.99, 0.4, 0.01, 0.35])  # text 1 sits on the call_to_action threshold
    pool = make_pool(4, cta=cta)
    scores, task_scores, _ = score_pool(pool.probabilities, SCHEMA, SelectionSettings(n=1))
    assert np.argmax(scores) == 1 and scores[1] > scores[3] > max(scores[0], scores[2])
    assert task_scores["call_to_action"][1] == pytest.approx(task_scores["call_to_action"].max())
    # an undecided sentiment beats a confident one too
    sentiment = np.array([[0.98, 0.01, 0.01], [0.34, 0.33, 0.33]])
    scores, _, _ = score_pool(make_pool(2, sentiment=sentiment).probabilities, SCHEMA, SelectionSettings(n=1))
    assert scores[1] > scores[0]
    picks = select(pool, SCHEMA, SelectionSettings(n=1, random_share=0.0)).picks
    assert [(p.index, p.selection) for p in picks] == [(1, UNCERTAIN)]


def test_rare_labels_are_weighted_up() -> None:
    n = 100
    topics = np.column_stack([np.full(n, 0.5), np.full(n, 0.02)])  # education common, health rare
    weights = rarity_weights(topics, SCHEMA["topics"])
    assert weights[0] == pytest.approx(1.0) and weights[1] == pytest.approx(5.0)
    assert rarity_weights(np.full((n, 2), 1e-9), SCHEMA["topics"])[0] == 10.0  # clipped at max_weight
    # the same closeness to the threshold counts more on the rare label
    topics[0] = [0.6 * 0.5, 0.01]  # education: half-way to its 0.6 threshold
    topics[1] = [0.01, 0.5 * 0.5]  # health: half-way to its 0.5 threshold
    _, task_scores, _ = score_pool(make_pool(n, topics=topics).probabilities, SCHEMA, SelectionSettings(n=1))
    assert task_scores["topics"][1] > task_scores["topics"][0]
    # single_label: a rare class weighs more than a common one
    sentiment = np.tile([0.1, 0.8, 0.1], (n, 1))
    assert list(rarity_weights(sentiment, SCHEMA["sentiment"]) > 1.0) == [True, False, True]


def clusters(sizes: list[int], dim: int = 16, spread: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(3)
    centres = np.eye(dim)[: len(sizes)] * 10
    return np.vstack([c + rng.normal(scale=spread, size=(k, dim)) for c, k in zip(centres, sizes)]).astype(np.float32)


def test_k_centre_spreads_picks_across_clusters() -> None:
    # three tight clusters of five texts; cluster A is the most uncertain, then B, then C
    cta = np.concatenate([np.full(5, 0.40), np.full(5, 0.36), np.full(5, 0.32)])
    pool = make_pool(15, cta=cta, embeddings=clusters([5, 5, 5]))
    picks = select(pool, SCHEMA, SelectionSettings(n=3, random_share=0.0)).picks  # 15 candidates for 3 places
    assert sorted(p.index // 5 for p in picks) == [0, 1, 2]
    assert picks[0].index == 0  # the first pick is the best-scored text (the first on ties)
    # without diversity (one candidate per place) the top scores, all in cluster A, win
    picks = select(pool, SCHEMA, SelectionSettings(n=3, random_share=0.0, candidate_factor=1)).picks
    assert {p.index // 5 for p in picks} == {0}
    # random picks count as taken ground: with one of A drawn at random, the uncertain ones avoid A
    for seed in range(4):
        selection = select(pool, SCHEMA, SelectionSettings(n=3, random_share=0.34, seed=seed))
        assert [p.selection for p in selection.picks] == [RANDOM, UNCERTAIN, UNCERTAIN]
        assert sorted(p.index // 5 for p in selection.picks) == [0, 1, 2]


def test_random_share_is_drawn_first_marked_and_seeded() -> None:
    pool = make_pool(200, cta=np.linspace(0.0, 0.4, 200))
    selection = select(pool, SCHEMA, SelectionSettings(n=20, random_share=0.25, seed=5))
    kinds = [p.selection for p in selection.picks]
    assert kinds == [RANDOM] * 5 + [UNCERTAIN] * 15
    expected = [int(i) for i in np.random.default_rng(5).permutation(200)[:5]]
    assert [p.index for p in selection.picks[:5]] == expected
    other = select(pool, SCHEMA, SelectionSettings(n=20, random_share=0.25, seed=6))
    assert [p.index for p in other.picks[:5]] != expected
    assert all(p.selection == RANDOM for p in select(pool, SCHEMA, SelectionSettings(n=10, random_share=1.0)).picks)


def test_near_duplicates_of_a_pick_are_passed_over() -> None:
    texts = distinct_texts(20)
    base = "សូមប្រជាពលរដ្ឋទាំងអស់ចូលរួមចាក់វ៉ាក់សាំងនៅមណ្ឌលសុខភាពជិតផ្ទះ"
    texts[:4] = [base, base + " !!", "  " + base.replace("ចូលរួម", "ចូលរួម ") + " 😀", base + "ណាស់"]
    cta = np.full(20, 0.1)
    cta[:4] = 0.4  # the four copies are the most uncertain
    pool = make_pool(20, cta=cta, texts=texts)
    selection = select(pool, SCHEMA, SelectionSettings(n=5, random_share=0.0))
    picked = [p.index for p in selection.picks]
    assert len(picked) == 5 and len(set(picked) & {0, 1, 2, 3}) == 1
    assert selection.near_duplicates_skipped >= 1


def test_near_duplicate_index() -> None:
    index = NearDuplicateIndex()
    text = "ក្រសួងសុខាភិបាលអំពាវនាវដល់ប្រជាពលរដ្ឋឱ្យប្រុងប្រយ័ត្នជំងឺគ្រុនឈាម"
    index.add(text)
    assert index.matches(text + "!!!") and index.matches(" ".join(text))  # spacing and punctuation
    assert index.matches(text[:-3])  # most 5-grams shared
    assert not index.matches("សាលារៀនភូមិយើងខ្វះគ្រូបង្រៀនជាច្រើនឆ្នាំមកហើយ")
    assert not index.matches("😀") and match_key("A, b!") == "ab"
    assert shingles("abc") == {"abc"} and len(shingles("abcdefg")) == 3


def test_quotas_fill_their_stratum_and_report_shortfalls() -> None:
    n = 60
    genre = ["news"] * 50 + ["web"] * 10
    cta = np.concatenate([np.full(50, 0.4), np.full(10, 0.05)])  # web texts are the least uncertain
    pool = make_pool(n, cta=cta, strata={"genre": genre})
    settings = SelectionSettings(n=12, random_share=0.0, quotas=(Quota.parse("genre=web:5"),))
    selection = select(pool, SCHEMA, settings)
    chosen = [genre[p.index] for p in selection.picks]
    assert chosen.count("web") == 5 and len(chosen) == 12
    assert {p.quota for p in selection.picks if genre[p.index] == "web"} == {"genre=web"}
    assert selection.quota_counts == {"genre=web": (5, 5)}
    short = select(pool, SCHEMA, SelectionSettings(n=20, random_share=0.0, quotas=(Quota("genre", "web", 15),)))
    assert short.quota_counts == {"genre=web": (10, 15)} and len(short.picks) == 20


def test_quota_parsing_and_limits() -> None:
    assert Quota.parse("genre=news:2000") == Quota("genre", "news", 2000)
    assert Quota.parse("source=a=b:c:3") == Quota("source", "a=b:c", 3)
    for bad in ("genre:3", "genre=news", "=news:3", "genre=news:x"):
        with pytest.raises(ValueError, match="FIELD=VALUE:N"):
            Quota.parse(bad)
    with pytest.raises(ValueError, match="more than n"):
        SelectionSettings(n=5, quotas=(Quota("genre", "news", 6),))
    with pytest.raises(ValueError, match="random_share"):
        SelectionSettings(n=5, random_share=1.5)


def test_same_pool_and_seed_give_the_same_batch() -> None:
    rng = np.random.default_rng(7)
    cta, topics = rng.uniform(0, 1, 300), rng.uniform(0, 1, (300, 2))
    pool = make_pool(300, cta=cta, topics=topics, strata={"g": ["a", "b"] * 150})
    settings = SelectionSettings(n=40, random_share=0.2, seed=11, quotas=(Quota("g", "b", 25),))
    first = select(pool, SCHEMA, settings)
    second = select(pool, SCHEMA, settings)
    assert first.picks == second.picks
    assert len({p.index for p in first.picks}) == 40


def test_a_small_pool_gives_what_it_has() -> None:
    selection = select(make_pool(3), SCHEMA, SelectionSettings(n=10, random_share=0.5))
    assert sorted(p.index for p in selection.picks) == [0, 1, 2]
