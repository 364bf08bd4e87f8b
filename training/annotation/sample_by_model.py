"""Second-round sampling: let a quick model trained on the first round choose what to read.

The first round's cue words found education easily but health, local administration and
calls to action only at low precision. This script fits the project's TF-IDF baseline on the
annotations made so far, scores every unread corpus line, and draws the lines most likely to
carry each under-represented label, plus some lines the model is least sure about. As with
cues, the scores only decide which texts get read; every label comes from an annotator.

    python training/annotation/sample_by_model.py --corpora ../shared/data/corpora \
        --annotations training/data/annotations --out training/data/batches --seed 17

Writes real_09.jsonl and real_10.jsonl (350 lines each) and appends a section to the
batches README.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_candidates import (  # noqa: E402
    RDLAB_FILE,
    SOURCE_NAMES,
    WIKI_FILE,
    NearDuplicateIndex,
    build_candidates,
    read_corpus,
)

from khmer_civic.schema import default_schema  # noqa: E402
from khmer_civic.train.baseline import TfidfBaseline  # noqa: E402

QUOTAS = {"health": 230, "local_administration": 230, "call_to_action": 140, "education": 40, "uncertain": 60}
BATCH_NAMES = ("real_09", "real_10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, required=True)
    ap.add_argument("--annotations", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    annotated = [
        json.loads(line)
        for f in sorted(args.annotations.glob("*.jsonl"))
        if not f.name.startswith("cta_type_")  # cta_type overlays hold no text
        for line in open(f, encoding="utf-8")
        if line.strip()
    ]
    model = TfidfBaseline(default_schema(), seed=args.seed).fit(annotated)

    index = NearDuplicateIndex()
    for r in annotated:
        index.add(r["text"])
    done = {r["id"] for r in annotated}
    candidates = []
    for name, prefix in ((RDLAB_FILE, "rd"), (WIKI_FILE, "wk")):
        cands, _ = build_candidates(read_corpus(args.corpora / name, prefix), SOURCE_NAMES[prefix])
        candidates += [c for c in cands if c.candidate_id not in done]
    print(f"{len(annotated)} annotated texts; {len(candidates)} unread candidates", file=sys.stderr)

    probs = model.predict_proba([c.text for c in candidates])
    topics = default_schema()["topics"].labels
    scores = {lab: probs["topics"][:, j] for j, lab in enumerate(topics)}
    scores["call_to_action"] = probs["call_to_action"][:, 0]
    # "uncertain": closest to a coin toss on any binary decision
    margin = np.min(np.abs(np.stack(list(scores.values()), axis=1) - 0.5), axis=1)
    scores["uncertain"] = -margin

    picked: dict[str, tuple[object, str]] = {}
    for stratum, quota in QUOTAS.items():
        order = np.argsort(-scores[stratum], kind="stable")
        taken = 0
        for i in order:
            if taken == quota:
                break
            c = candidates[i]
            if c.candidate_id in picked or index.is_near_duplicate(c.text):
                continue
            picked[c.candidate_id] = (c, stratum)
            index.add(c.text)
            taken += 1
    rows = list(picked.values())
    rng.shuffle(rows)
    size = len(rows) // len(BATCH_NAMES)
    for k, name in enumerate(BATCH_NAMES):
        chunk = rows[k * size : (k + 1) * size] if k < len(BATCH_NAMES) - 1 else rows[k * size :]
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for c, stratum in chunk:
                f.write(json.dumps({"id": c.candidate_id, "text": c.text, "source": c.source, "provenance": "corpus",
                                    "cue": f"model:{stratum}"}, ensure_ascii=False) + "\n")
        print(f"{name}: {len(chunk)} lines", file=sys.stderr)
    counts = {s: sum(1 for _, st in rows if st == s) for s in QUOTAS}
    with open(args.out / "README.md", "a", encoding="utf-8") as f:
        f.write(
            "\n## Second round, chosen by a model (`real_09`, `real_10`)\n\n"
            "The TF-IDF baseline (`khmer_civic.train.baseline`) was fitted on the "
            f"{len(annotated)} first-round annotations; the unread lines it scored highest for each "
            "label, and the ones it was least sure about, were drawn (near-duplicates of anything "
            "already read excluded). `cue` is `model:<stratum>`; the scores are not labels.\n\n"
            "```bash\npython training/annotation/sample_by_model.py --corpora ../shared/data/corpora "
            f"--annotations training/data/annotations --out training/data/batches --seed {args.seed}\n```\n\n"
            + "| stratum | lines |\n|---|---:|\n" + "".join(f"| {s} | {n} |\n" for s, n in counts.items())
        )


if __name__ == "__main__":
    main()
