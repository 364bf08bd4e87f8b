"""The report's words in English (``en``) and Khmer (``km``): headings, column names, labels, notes.

A key without a Khmer entry falls back to English, and a key without any entry (a label of a
retrained model, a column of the data) is shown as it is, so a new label needs no change here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "km")

_EN: dict[str, str] = {
    # sections
    "title": "Civic topics, sentiment and calls to action",
    "overview": "Overview",
    "topics_sentiment": "Topics and sentiment",
    "cta": "Calls to action",
    "engagement": "Engagement of posts with and without a call to action",
    "post_comments": "The sentiment of each post's comments",
    "examples": "Example texts per label",
    "model": "The model",
    # tables and charts
    "label_status": "Rows per label status",
    "item_types": "Rows per platform and item type",
    "chart_topics_sentiment": "Sentiment within each topic (share of labelled rows)",
    "cta_by_topic": "Call-to-action rate by topic",
    "cta_type_by_topic": "Kinds of call to action by topic (calls to action only)",
    "cta_over_time": "Calls to action per period",
    "chart_cta_over_time": "Call-to-action rate per period",
    "engagement_medians": "Median engagement per post, with 95% bootstrap intervals",
    "engagement_rate_ratio": "Rate ratio, posts with a call to action to posts without (count regression with page and period effects)",
    "chart_engagement": "Median per post and 95% interval",
    "post_comment_sentiment": "Comments per post and their sentiment",
    "most_negative_posts": "Posts whose comments are most negative, per topic",
    "chart_comment_negative": "Share of negative comments under the most negative posts",
    # columns and figures
    "figure": "Figure",
    "value": "Value",
    "rows": "Rows",
    "rows_share": "Share of rows",
    "rows_labelled": "Rows labelled",
    "rows_not_labelled": "Rows not labelled",
    "first_date": "First date",
    "last_date": "Last date",
    "rows_without_date": "Rows without a date",
    "periods": "Periods",
    "platform": "Platform",
    "item_type": "Item type",
    "topic": "Topic",
    "topics": "Topics",
    "sentiment": "Sentiment",
    "call_to_action": "Call to action",
    "cta_type": "Kind of call to action",
    "cta_rows": "Calls to action",
    "cta_rate": "Call-to-action rate",
    "period": "Period",
    "metric": "Engagement",
    "group": "Posts",
    "posts": "Posts",
    "median": "Median",
    "ci_low": "95% interval, low",
    "ci_high": "95% interval, high",
    "note": "Note",
    "posts_with_cta": "Posts with a call to action",
    "posts_without_cta": "Posts without",
    "posts_in_model": "Posts in the regression",
    "rate_ratio": "Rate ratio",
    "method": "Method",
    "post_id": "Post",
    "page": "Page",
    "comments": "Comments",
    "reactions": "Reactions",
    "shares": "Shares",
    "views": "Views",
    "comments_labelled": "Comments labelled",
    "text": "Text",
    "url": "Link",
    "rank": "Rank",
    "task": "Task",
    "label": "Label",
    "score": "Score",
    "row": "Row",
    "model_path": "Directory",
    "version": "Version",
    "test_texts": "Test texts",
    "mean_macro_f1": "Mean macro-F1 on the test split",
    "with_cta": "with a call to action",
    "without_cta": "without a call to action",
    "too_few_posts": "too few posts",
    "not_estimable": "cannot be estimated (call to action confounded with page and period)",
    "share_suffix": "(share)",
    "yes": "yes",
    "no": "no",
    # notes
    "source": "Source: {source}. Periods: {period}. Rows that were not labelled are counted in the overview and left out of the label tables.",
    "no_engagement_columns": "The data has no engagement columns (reactions, comments, shares, views): export the posts with the platform readers to get this section.",
    "no_posts": "The data has no labelled posts (item_type 'post') to compare.",
    "posts_compared": "{posts} posts, {labelled} of them labelled; the medians and the regression use the labelled posts that have the figure.",
    "metric_empty": "No post has a value in the column {metric}.",
    "too_few_rule": "A median needs {minimum} posts in its group, and the rate ratio {minimum} posts with and without a call to action; below that the table says \u201ctoo few posts\u201d.",
    "no_threads": "The data has no post and comment threads (item_type and parent_id columns).",
    "orphan_comments": "{comments} comments or replies hang from no post in the file and are left out of this section.",
    "most_negative_rule": "Posts with at least {minimum} labelled comments, ranked by the share of negative comments.",
    "no_dates": "The data has no dates (created_at), so calls to action are not shown per period.",
    "unreadable_times": "{rows} rows have a date that could not be read; they count as \u201c(no date)\u201d.",
    "no_text_column": "The data has no text column to take examples from.",
    "missing_tasks": "The labelled file has no column for these tasks of the model: {tasks} (labelled by another model? pass --model).",
    "foreign_columns": "The labelled file has score columns this model does not produce: {columns} (labelled by another model? pass --model).",
    "model_source": "The labelled file does not record its model; these figures are those of the model given to the report command ({path}).",
    "posts_shown": "The {shown} posts with the most comments are shown; the workbook has all {total}.",
}

_KM: dict[str, str] = {
    "title": "ប្រធានបទពលរដ្ឋ មនោសញ្ចេតនា និងការអំពាវនាវឱ្យធ្វើសកម្មភាព",
    "overview": "ទិដ្ឋភាពទូទៅ",
    "topics_sentiment": "ប្រធានបទ និងមនោសញ្ចេតនា",
    "cta": "ការអំពាវនាវឱ្យធ្វើសកម្មភាព",
    "engagement": "អន្តរកម្មនៃការបង្ហោះ ដែលមាន និងគ្មានការអំពាវនាវ",
    "post_comments": "មនោសញ្ចេតនានៃមតិយោបល់ក្រោមការបង្ហោះនីមួយៗ",
    "examples": "ឧទាហរណ៍អត្ថបទតាមស្លាកនីមួយៗ",
    "model": "ម៉ូដែល",
    "label_status": "ចំនួនជួរតាមស្ថានភាពស្លាក",
    "item_types": "ចំនួនជួរតាមវេទិកា និងប្រភេទ",
    "chart_topics_sentiment": "មនោសញ្ចេតនាក្នុងប្រធានបទនីមួយៗ (ភាគរយនៃជួរដែលមានស្លាក)",
    "cta_by_topic": "អត្រាការអំពាវនាវតាមប្រធានបទ",
    "cta_type_by_topic": "ប្រភេទការអំពាវនាវតាមប្រធានបទ",
    "cta_over_time": "ការអំពាវនាវតាមរយៈពេល",
    "chart_cta_over_time": "អត្រាការអំពាវនាវតាមរយៈពេល",
    "engagement_medians": "មេដ្យាននៃអន្តរកម្មក្នុងមួយការបង្ហោះ និងចន្លោះទំនុកចិត្ត ៩៥%",
    "engagement_rate_ratio": "សមាមាត្រអត្រា ការបង្ហោះមានការអំពាវនាវ ធៀបនឹងគ្មាន",
    "chart_engagement": "មេដ្យានក្នុងមួយការបង្ហោះ និងចន្លោះ ៩៥%",
    "post_comment_sentiment": "មតិយោបល់ក្រោមការបង្ហោះនីមួយៗ និងមនោសញ្ចេតនារបស់វា",
    "most_negative_posts": "ការបង្ហោះដែលមានមតិយោបល់អវិជ្ជមានច្រើនជាងគេ តាមប្រធានបទ",
    "chart_comment_negative": "ភាគរយមតិយោបល់អវិជ្ជមាន",
    "figure": "តួលេខ",
    "value": "តម្លៃ",
    "rows": "ជួរ",
    "rows_share": "ភាគរយនៃជួរ",
    "rows_labelled": "ជួរដែលមានស្លាក",
    "rows_not_labelled": "ជួរគ្មានស្លាក",
    "first_date": "កាលបរិច្ឆេទដំបូង",
    "last_date": "កាលបរិច្ឆេទចុងក្រោយ",
    "rows_without_date": "ជួរគ្មានកាលបរិច្ឆេទ",
    "periods": "ចំនួនរយៈពេល",
    "platform": "វេទិកា",
    "item_type": "ប្រភេទ",
    "topic": "ប្រធានបទ",
    "topics": "ប្រធានបទ",
    "sentiment": "មនោសញ្ចេតនា",
    "call_to_action": "ការអំពាវនាវ",
    "cta_type": "ប្រភេទការអំពាវនាវ",
    "cta_rows": "ការអំពាវនាវ",
    "cta_rate": "អត្រាការអំពាវនាវ",
    "period": "រយៈពេល",
    "metric": "អន្តរកម្ម",
    "group": "ការបង្ហោះ",
    "posts": "ការបង្ហោះ",
    "median": "មេដ្យាន",
    "ci_low": "ចន្លោះ ៩៥% ទាប",
    "ci_high": "ចន្លោះ ៩៥% ខ្ពស់",
    "note": "កំណត់ចំណាំ",
    "posts_with_cta": "ការបង្ហោះមានការអំពាវនាវ",
    "posts_without_cta": "ការបង្ហោះគ្មានការអំពាវនាវ",
    "posts_in_model": "ការបង្ហោះក្នុងគំរូតំរែតំរង់",
    "rate_ratio": "សមាមាត្រអត្រា",
    "method": "វិធីសាស្ត្រ",
    "post_id": "ការបង្ហោះ",
    "page": "ទំព័រ",
    "comments": "មតិយោបល់",
    "comments_labelled": "មតិយោបល់ដែលមានស្លាក",
    "text": "អត្ថបទ",
    "url": "តំណ",
    "rank": "លំដាប់",
    "task": "កិច្ចការ",
    "label": "ស្លាក",
    "score": "ពិន្ទុ",
    "row": "ជួរ",
    "model_path": "ថត",
    "version": "កំណែ",
    "test_texts": "អត្ថបទសាកល្បង",
    "mean_macro_f1": "macro-F1 មធ្យមលើសំណុំសាកល្បង",
    "with_cta": "មានការអំពាវនាវ",
    "without_cta": "គ្មានការអំពាវនាវ",
    "too_few_posts": "ការបង្ហោះតិចពេក",
    "not_estimable": "មិនអាចប៉ាន់ស្មានបាន",
    "share_suffix": "(ភាគរយ)",
    "yes": "បាទ/ចាស",
    "no": "ទេ",
    "education": "អប់រំ",
    "health": "សុខាភិបាល",
    "local_administration": "រដ្ឋបាលមូលដ្ឋាន",
    "negative": "អវិជ្ជមាន",
    "neutral": "អព្យាក្រឹត",
    "positive": "វិជ្ជមាន",
    "(none)": "(គ្មាន)",
    "(all)": "(ទាំងអស់)",
    "(no date)": "(គ្មានកាលបរិច្ឆេទ)",
    "reactions": "ប្រតិកម្ម",
    "shares": "ការចែករំលែក",
    "views": "ការមើល",
    "source": "ប្រភព៖ {source}។ រយៈពេល៖ {period}។ ជួរដែលគ្មានស្លាកត្រូវបានរាប់ក្នុងទិដ្ឋភាពទូទៅ ប៉ុន្តែមិនរាប់ក្នុងតារាងស្លាកទេ។",
    "no_engagement_columns": "ទិន្នន័យនេះគ្មានជួរឈរអន្តរកម្ម (ប្រតិកម្ម មតិយោបល់ ការចែករំលែក ការមើល) ទេ។",
    "no_posts": "ទិន្នន័យនេះគ្មានការបង្ហោះដែលមានស្លាកសម្រាប់ប្រៀបធៀបទេ។",
    "posts_compared": "ការបង្ហោះ {posts} ក្នុងនោះ {labelled} មានស្លាក។",
    "metric_empty": "គ្មានការបង្ហោះណាមានតម្លៃក្នុងជួរឈរ {metric} ទេ។",
    "too_few_rule": "មេដ្យានត្រូវការការបង្ហោះ {minimum} ក្នុងក្រុមនីមួយៗ ហើយសមាមាត្រអត្រាត្រូវការការបង្ហោះ {minimum} ដែលមាន និងគ្មានការអំពាវនាវ។ បើតិចជាងនេះ តារាងសរសេរថា «ការបង្ហោះតិចពេក»។",
    "no_threads": "ទិន្នន័យនេះគ្មានខ្សែការបង្ហោះ និងមតិយោបល់ (ជួរឈរ item_type និង parent_id) ទេ។",
    "orphan_comments": "មតិយោបល់ {comments} មិនភ្ជាប់នឹងការបង្ហោះណាមួយក្នុងឯកសារ ហើយមិនត្រូវបានរាប់ក្នុងផ្នែកនេះទេ។",
    "most_negative_rule": "ការបង្ហោះដែលមានមតិយោបល់មានស្លាកយ៉ាងតិច {minimum} តម្រៀបតាមភាគរយមតិយោបល់អវិជ្ជមាន។",
    "no_dates": "ទិន្នន័យនេះគ្មានកាលបរិច្ឆេទ (created_at) ទេ។",
    "unreadable_times": "ជួរ {rows} មានកាលបរិច្ឆេទដែលមិនអាចអានបាន។",
    "no_text_column": "ទិន្នន័យនេះគ្មានជួរឈរអត្ថបទទេ។",
    "missing_tasks": "ឯកសារនេះគ្មានជួរឈរសម្រាប់កិច្ចការទាំងនេះរបស់ម៉ូដែលទេ៖ {tasks} (ប្រើ --model)។",
    "foreign_columns": "ឯកសារនេះមានជួរឈរពិន្ទុដែលម៉ូដែលនេះមិនបង្កើត៖ {columns} (ប្រើ --model)។",
    "model_source": "ឯកសារដែលមានស្លាកមិនកត់ត្រាម៉ូដែលរបស់វាទេ។ តួលេខទាំងនេះជារបស់ម៉ូដែលដែលបានផ្តល់ឱ្យពាក្យបញ្ជា ({path})។",
    "posts_shown": "បង្ហាញការបង្ហោះ {shown} ដែលមានមតិយោបល់ច្រើនជាងគេ។ សៀវភៅបញ្ជី XLSX មានទាំង {total}។",
}

_WORDS: dict[str, dict[str, str]] = {"en": _EN, "km": _KM}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    return lang


def word(key: str, lang: str) -> str:
    """The text of ``key`` in ``lang`` (else English, else the key itself)."""
    return _WORDS[check_language(lang)].get(key) or _EN.get(key) or key


def header(key: str, lang: str) -> str:
    """A column's heading: ``negative_share`` -> "negative (share)", ``cta_type:attend`` -> "attend"."""
    if key.startswith("cta_type:"):
        return word(key.split(":", 1)[1], lang)
    for suffix in ("_share",):
        if key.endswith(suffix) and key != "rows_share":
            return f"{word(key[: -len(suffix)], lang)} {word('share_suffix', lang)}"
    return word(key, lang)


def message(key: str, values: Mapping[str, Any], lang: str) -> str:
    """A note with its values filled in."""
    return word(key, lang).format(**values)
