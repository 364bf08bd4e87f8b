"""Choosing texts to annotate and the Label Studio round trip (``khmer-civic select``, ``import-labels``).

:mod:`.near_duplicates` finds texts too close to others (character 5-gram Jaccard on normalised
text, the rule of the annotation tools); :mod:`.select` scores a pool of texts with a model and
picks a batch (uncertainty, rare labels, diversity, quotas, a random share); :mod:`.batch`
writes the batch for annotators; :mod:`.labelstudio` writes Label Studio tasks and the labelling
config, and reads a Label Studio export back into LABELS.md records. This package uses
:mod:`khmer_civic.model` and :mod:`khmer_civic.io`; only the command line uses it.
"""
