"""``khmer-civic report``: what a labelled table says, as one offline HTML page and an XLSX workbook.

- :mod:`.rows`: the labelled file read back, one item per row (every row kept);
- :mod:`.tables`: each section's tables from those rows (:func:`~.tables.build_report`);
- :mod:`.stats`: bootstrap intervals of medians, the rate ratio of a count regression;
- :mod:`.charts`, :mod:`.html`: the page, its charts drawn as inline SVG;
- :mod:`.xlsx`: the same tables as a workbook; :mod:`.i18n`: English and Khmer words.

The statistics need the optional ``report`` extra (statsmodels), imported only when a rate ratio
is estimated.
"""
