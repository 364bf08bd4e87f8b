"""Analyses over whole tables of texts, built on the model and io layers.

- :mod:`~khmer_civic.analysis.words`: the words that most often push each label across a dump
  (``khmer-civic explain --input``).
"""

from khmer_civic.analysis.words import TableWords, words_in_table

__all__ = ["TableWords", "words_in_table"]
