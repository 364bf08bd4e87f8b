"""The one genre mapping (khmer_civic.genres): genre and part of a record."""

from __future__ import annotations

import pytest

from khmer_civic.genres import DERIVED_GROUPS, PARTS, genre_of, part_of


@pytest.mark.parametrize(
    ("record", "genre", "part"),
    [
        ({"source": "rdlab_wild_khmer_sentences", "provenance": "corpus"}, "textbook", "reference"),
        ({"source": "khmer_wikipedia_5k", "provenance": "corpus"}, "wikipedia", "reference"),
        ({"source": "news:4411:p2", "provenance": "corpus"}, "news", "news_web"),
        ({"source": "oscar_web_lines", "provenance": "corpus"}, "web", "news_web"),
        ({"source": "authored:citizen-comment", "provenance": "authored"}, "authored_comment", "authored"),
        ({"source": "authored:page-post", "provenance": "authored"}, "authored_post", "authored"),
        (
            {"source": "authored:citizen-comment", "provenance": "authored", "genre": "romanized-comment"},
            "romanized",
            "authored",
        ),
        ({"source": "news:9:p0", "provenance": "corpus", "script": "code-mixed"}, "romanized", "news_web"),
        ({"source": "some_new_corpus"}, "other", "reference"),
    ],
)
def test_genre_and_part(record: dict[str, str], genre: str, part: str) -> None:
    assert genre_of(record) == genre
    assert part_of(record) == part
    assert part in PARTS


def test_derived_groups_name_both() -> None:
    assert DERIVED_GROUPS["genre"] is genre_of
    assert DERIVED_GROUPS["part"] is part_of
