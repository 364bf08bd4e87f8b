"""Platform exports read as tables with one column contract (:mod:`.contract`).

Readers for the files people download from Facebook (Meta Business Suite, CrowdTangle, Download
Your Information, the Graph API, Facepager, facebook-scraper), Telegram Desktop and
youtube-comment-downloader. Each format is told from the file itself (:mod:`.registry`); a file
no format claims is read as the plain table it is. Each row gets the contract columns
(``platform``, ``item_type``, ``item_id``, ``parent_id``, ``author``, ``created_at``, ``text``,
``reactions``, ``comments``, ``shares``, ``views``, ``url``) before the export's own fields, and
``text`` is what ``label`` scores. A row a reader cannot map is kept and flagged
``unmapped_row``; Telegram service messages are the one kind of item left out (and counted).

One module per platform family: :mod:`.facebook`, :mod:`.telegram`, :mod:`.youtube`.
"""

from khmer_civic.io.platforms.base import PlatformFormat, PlatformReader, Sample
from khmer_civic.io.platforms.contract import CONTRACT_COLUMNS, DEFAULT_TIMEZONE, UnknownTimeZoneError
from khmer_civic.io.platforms.registry import (
    FORMAT_NAMES,
    FORMATS,
    PLAIN_TABLE,
    PLAIN_TABLE_DESCRIPTION,
    detect_platform,
    format_named,
    open_platform,
    read_sample,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "DEFAULT_TIMEZONE",
    "FORMATS",
    "FORMAT_NAMES",
    "PLAIN_TABLE",
    "PLAIN_TABLE_DESCRIPTION",
    "PlatformFormat",
    "PlatformReader",
    "Sample",
    "UnknownTimeZoneError",
    "detect_platform",
    "format_named",
    "open_platform",
    "read_sample",
]
