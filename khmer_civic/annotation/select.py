"""Which texts of a scored pool to annotate next: uncertainty, rare labels, diversity, quotas, a random share.

The pool is the model's view of every usable text (:class:`Pool`, built by
:func:`khmer_civic.annotation.pool.read_pool`): calibrated probabilities per task and the pooled
text embedding. :func:`select` picks ``n`` texts in three steps, never the same text twice and
never a near-duplicate (:mod:`.near_duplicates`) of a text already picked:

1. **Random share.** ``round(n * random_share)`` texts drawn uniformly from the pool (seeded),
   marked ``random``: annotated, they give unbiased rates of every label in the pool.
2. **Quotas.** For each ``FIELD=VALUE:N``, the batch must hold at least ``N`` texts whose input
   column ``FIELD`` is ``VALUE``: random picks count, the rest are the stratum's best
   uncertain texts (step 3 within the stratum). A stratum with too few texts gives what it has.
3. **Uncertain.** The remaining places go to the best texts of the whole pool, marked ``uncertain``.

**Score.** Per task, an uncertainty in [0, 1], scaled up for rare labels:

- ``binary`` and each label of ``multi_label``: closeness to the decision threshold ``t`` of the
  calibrated probability ``p``: ``p / t`` below the threshold, ``(1 - p) / (1 - t)`` above it (1 at
  the threshold, 0 at certainty). Weighted by the label's rarity weight; a ``multi_label`` task
  takes its highest weighted label.
- ``single_label``: entropy of the probabilities divided by ``log(K)``, times the expected
  rarity weight ``sum_k p_k * w_k``.

A label's rarity weight is ``(r / prevalence) ** rare_power``, clipped to ``[1, max_weight]``, where
prevalence is the label's mean predicted probability over the pool and ``r`` the prevalence of a
balanced label (0.5 for a sigmoid label, ``1 / K`` for a class of K). With the defaults (power
0.5, at most 10), a label the model gives to 2% of the pool weighs 5, one at 50% weighs 1. A
text's score is the mean of its task scores.

**Diversity.** Among the ``candidate_factor * k`` best-scored candidates for ``k`` places, picks
are made greedily, k-centre style: each next pick maximises ``score * d``, where ``d`` is its
cosine distance to the nearest text already in the batch (random picks included); the first
pick of an empty batch is the best-scored text. So the batch covers the uncertain region instead
of taking fifty paraphrases of one appeal. Every tie is broken by pool order, and the random
draw uses ``numpy.random.default_rng(seed)``: the same pool, settings and seed give the same batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from khmer_civic.annotation.near_duplicates import NEAR_DUPLICATE_JACCARD, NearDuplicateIndex
from khmer_civic.schema import ModelSchema, TaskSpec

RANDOM = "random"
UNCERTAIN = "uncertain"
_QUOTA = re.compile(r"^(?P<field>[^=]+)=(?P<value>.*):(?P<count>\d+)$")
_DISTANCE_BLOCK = 4096  # candidate rows per matrix product against the batch


@dataclass(frozen=True)
class Quota:
    """At least ``count`` texts of the batch whose column ``field`` is ``value``."""

    field: str
    value: str
    count: int

    @property
    def label(self) -> str:
        return f"{self.field}={self.value}"

    @classmethod
    def parse(cls, spec: str) -> Quota:
        """``FIELD=VALUE:N``, e.g. ``genre=news:2000`` (the value may hold ``=`` and ``:``)."""
        match = _QUOTA.match(spec.strip())
        if not match or not match["field"].strip():
            raise ValueError(f"quota {spec!r} is not FIELD=VALUE:N (e.g. genre=news:2000)")
        return cls(match["field"].strip(), match["value"].strip(), int(match["count"]))


@dataclass(frozen=True)
class SelectionSettings:
    """How :func:`select` picks (see the module docstring)."""

    n: int
    random_share: float = 0.2
    seed: int = 0
    quotas: tuple[Quota, ...] = ()
    candidate_factor: int = 5
    rare_power: float = 0.5
    max_weight: float = 10.0
    near_duplicate_jaccard: float = NEAR_DUPLICATE_JACCARD

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if not 0.0 <= self.random_share <= 1.0:
            raise ValueError(f"random_share must be between 0 and 1, got {self.random_share}")
        if self.candidate_factor < 1 or self.max_weight < 1.0 or self.rare_power < 0.0:
            raise ValueError("candidate_factor and max_weight must be at least 1, rare_power at least 0")
        if sum(q.count for q in self.quotas) > self.n:
            raise ValueError(f"the quotas ask for {sum(q.count for q in self.quotas)} texts, more than n = {self.n}")

    @property
    def n_random(self) -> int:
        return int(round(self.n * self.random_share))


@dataclass
class Pool:
    """The texts that can be picked, in input order, with the model's view of them."""

    ids: list[str]
    texts: list[str]
    rows: np.ndarray  # row number of each text in the input (0-based, data rows)
    probabilities: dict[str, np.ndarray]  # task -> [N, n_outputs]
    embeddings: np.ndarray  # [N, dim]; L2-normalised by select()
    strata: dict[str, list[str]] = field(default_factory=dict)  # quota field -> value per text

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Pick:
    """One picked text: its pool index, why it was picked and the quota it was picked for."""

    index: int
    selection: str  # RANDOM or UNCERTAIN
    quota: str | None = None


@dataclass
class Selection:
    """What :func:`select` returns: the picks in batch order and the scores of the whole pool."""

    picks: list[Pick]
    scores: np.ndarray  # [N] combined score
    task_scores: dict[str, np.ndarray]  # task -> [N]
    weights: dict[str, np.ndarray]  # task -> rarity weight per label (binary: of "true")
    quota_counts: dict[str, tuple[int, int]]  # quota label -> (in the batch, asked)
    near_duplicates_skipped: int = 0


# ------------------------------------------------------------------------------ scores


def rarity_weights(
    probs: np.ndarray, task: TaskSpec, rare_power: float = 0.5, max_weight: float = 10.0
) -> np.ndarray:
    """Weight per output column: ``(r / mean probability) ** rare_power`` in ``[1, max_weight]``."""
    prevalence = np.maximum(np.nanmean(probs, axis=0), 1e-6) if len(probs) else np.full(probs.shape[1], 0.5)
    balanced = 1.0 / probs.shape[1] if task.type == "single_label" else 0.5
    return np.clip((balanced / prevalence) ** rare_power, 1.0, max_weight)


def threshold_closeness(p: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """1 at the threshold, falling linearly to 0 at p = 0 and p = 1."""
    t = np.clip(np.asarray(threshold, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.where(p < t, p / t, (1.0 - p) / (1.0 - t))


def task_uncertainty(probs: np.ndarray, task: TaskSpec, weights: np.ndarray) -> np.ndarray:
    """One weighted uncertainty per text for one task (see the module docstring)."""
    if task.type == "single_label":
        p = np.clip(probs, 1e-12, 1.0)
        entropy = -(p * np.log(p)).sum(axis=1) / np.log(probs.shape[1])
        return entropy * (probs * weights[None, :]).sum(axis=1)
    if task.type == "binary":
        return threshold_closeness(probs[:, 0], task.threshold) * weights[0]
    thresholds = np.array([task.threshold_for(label) for label in task.labels])
    return (threshold_closeness(probs, thresholds[None, :]) * weights[None, :]).max(axis=1)


def score_pool(
    probabilities: dict[str, np.ndarray], schema: ModelSchema, settings: SelectionSettings
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Combined score per text (mean of the task scores), the task scores and the rarity weights."""
    task_scores: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for task in schema.tasks:
        probs = probabilities[task.name]
        weights[task.name] = rarity_weights(probs, task, settings.rare_power, settings.max_weight)
        task_scores[task.name] = task_uncertainty(probs, task, weights[task.name])
    combined = np.mean(np.stack(list(task_scores.values())), axis=0) if task_scores else np.zeros(0)
    return combined, task_scores, weights


# ------------------------------------------------------------------------------ picking


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), as float32."""
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def nearest_distance(candidates: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Cosine distance of each (unit) candidate row to its nearest (unit) batch row; 2 for an empty batch."""
    out = np.full(len(candidates), 2.0, dtype=np.float32)
    if not len(batch) or not len(candidates):
        return out
    for start in range(0, len(candidates), _DISTANCE_BLOCK):
        block = candidates[start : start + _DISTANCE_BLOCK]
        out[start : start + len(block)] = 1.0 - (block @ batch.T).max(axis=1)
    return np.maximum(out, 0.0)


class _Batch:
    """The picks so far, their unit embeddings and a near-duplicate index of their texts."""

    def __init__(self, pool: Pool, unit: np.ndarray, jaccard: float) -> None:
        self.pool = pool
        self.unit = unit
        self.picks: list[Pick] = []
        self.taken: set[int] = set()
        self.index = NearDuplicateIndex(jaccard)
        self.skipped = 0

    def offer(self, index: int, selection: str, quota: str | None) -> bool:
        """Add a text unless it is taken or a near-duplicate of a pick (then counted as skipped)."""
        if index in self.taken:
            return False
        self.taken.add(index)  # offered once: a rejected near-duplicate is not offered again
        if self.index.matches(self.pool.texts[index]):
            self.skipped += 1
            return False
        self.index.add(self.pool.texts[index])
        self.picks.append(Pick(index, selection, quota))
        return True

    def embeddings(self) -> np.ndarray:
        return self.unit[[p.index for p in self.picks]] if self.picks else self.unit[:0]


def draw_random(batch: _Batch, count: int, rng: np.random.Generator) -> None:
    """Add ``count`` texts drawn uniformly (a near-duplicate of a pick is passed over)."""
    added = 0
    for index in rng.permutation(len(batch.pool)):
        if added >= count:
            break
        added += batch.offer(int(index), RANDOM, None)


def diverse_picks(
    batch: _Batch, eligible: np.ndarray, scores: np.ndarray, k: int, factor: int, quota: str | None
) -> int:
    """Add up to ``k`` of ``eligible`` by score and distance to the batch (see the module docstring)."""
    eligible = np.asarray([i for i in eligible if i not in batch.taken], dtype=np.int64)
    if k <= 0 or not len(eligible):
        return 0
    order = np.lexsort((eligible, -scores[eligible]))  # best score first, pool order on ties
    candidates = eligible[order][: factor * k]
    gain = scores[candidates].astype(np.float64)
    units = batch.unit[candidates]
    distance = nearest_distance(units, batch.embeddings()).astype(np.float64)
    alive = np.ones(len(candidates), dtype=bool)
    added = 0
    while added < k and alive.any():
        value = np.where(alive, gain * distance, -np.inf)
        best = int(np.argmax(value))  # first maximum: the better-scored candidate on ties
        alive[best] = False
        if batch.offer(int(candidates[best]), UNCERTAIN, quota):
            added += 1
            distance = np.minimum(distance, np.maximum(1.0 - units @ units[best], 0.0))
    return added


def select(pool: Pool, schema: ModelSchema, settings: SelectionSettings) -> Selection:
    """Pick ``settings.n`` texts of ``pool`` (fewer when the pool runs out); see the module docstring."""
    scores, task_scores, weights = score_pool(pool.probabilities, schema, settings)
    batch = _Batch(pool, unit_rows(pool.embeddings), settings.near_duplicate_jaccard)
    draw_random(batch, min(settings.n_random, settings.n), np.random.default_rng(settings.seed))
    counts: dict[str, tuple[int, int]] = {}
    for quota in settings.quotas:
        values = pool.strata.get(quota.field)
        if values is None:
            raise ValueError(f"no values of column {quota.field!r} in the pool (quota {quota.label})")
        members = np.asarray([i for i, v in enumerate(values) if v == quota.value], dtype=np.int64)
        have = sum(1 for p in batch.picks if values[p.index] == quota.value)
        wanted = min(quota.count - have, settings.n - len(batch.picks))
        have += diverse_picks(batch, members, scores, wanted, settings.candidate_factor, quota.label)
        counts[quota.label] = (have, quota.count)
    rest = settings.n - len(batch.picks)
    diverse_picks(batch, np.arange(len(pool)), scores, rest, settings.candidate_factor, None)
    if len(batch.picks) < settings.n:  # candidates ran out to near-duplicates: widen to the whole pool
        diverse_picks(batch, np.arange(len(pool)), scores, settings.n - len(batch.picks), len(pool), None)
    return Selection(batch.picks, scores, task_scores, weights, counts, batch.skipped)

