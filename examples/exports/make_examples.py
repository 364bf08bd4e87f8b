"""Write the synthetic platform exports of this folder (deterministic: run it again for the same bytes).

    python examples/exports/make_examples.py            # writes beside this script
    python examples/exports/make_examples.py --out DIR

Files (every text written for the project; no real page, person or message):

- ``meta_business_suite_posts.csv``: a Meta Business Suite post export (UTF-8 with a byte-order
  mark) of three pages, a commune hall, a health centre and a primary school: 40 posts from August
  to October 2026 with varied reactions, comments and shares.
- ``facebook_comments_graph.json``: the comments and replies on those posts as a Graph API response
  (``data``/``paging``). Comment ids are ``POSTID_COMMENTID``, so each comment's ``parent_id`` is the
  ``item_id`` of its post in the export above; replies name their comment in ``parent``.
- ``facebook_page_graph.json``: the same posts with their comments and replies nested, as one Graph API
  response (``/PAGE/posts?fields=message,created_time,...,comments{...,comments{...}}``): posts and
  comments in one file, so one ``label`` run gives ``report`` both.
- ``telegram_result.json``: a Telegram Desktop export of one channel (text as entity lists, replies,
  reactions, service messages).
- ``youtube_comments.jsonl``: youtube-comment-downloader output for one health video.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SEED = 15
PHNOM_PENH = ZoneInfo("Asia/Phnom_Penh")
START = datetime(2026, 8, 1, tzinfo=PHNOM_PENH)
DAYS = 92  # August to October

PAGES = {
    "local_administration": ("100000000000101", "សាលាឃុំស្វាយជ្រុំ"),
    "health": ("100000000000102", "មណ្ឌលសុខភាពស្វាយជ្រុំ"),
    "education": ("100000000000103", "សាលាបឋមសិក្សាត្រពាំងឈូក"),
}

POSTS = {
    "education": [
        "សាលាបឋមសិក្សាត្រពាំងឈូកនឹងបើកការចុះឈ្មោះសិស្សថ្នាក់ទី១ ចាប់ពីថ្ងៃច័ន្ទនេះ។",
        "សូមអបអរសាទរសិស្សានុសិស្សទាំងអស់ដែលបានប្រឡងជាប់ឆ្នាំនេះ។",
        "អគារសិក្សាថ្មីចំនួនបួនបន្ទប់បានសាងសង់រួចរាល់ ហើយនឹងប្រើនៅឆ្នាំសិក្សាក្រោយ។",
        "បណ្ណាល័យសាលាបើកឱ្យសិស្សអានសៀវភៅរៀងរាល់ល្ងាច ពីម៉ោង៤ដល់ម៉ោង៥។",
        "គណៈកម្មការទ្រទ្រង់សាលារៀនបានចែកសៀវភៅ និងប៊ិចជូនសិស្សក្រីក្រចំនួន៦០នាក់។",
        "ថ្នាក់គួរភាសាអង់គ្លេសឥតគិតថ្លៃ សម្រាប់សិស្សថ្នាក់ទី៥ និងទី៦ រៀងរាល់ថ្ងៃសៅរ៍។",
        "សាលាត្រូវការគ្រូស្ម័គ្រចិត្តជួយបង្រៀនគណិតវិទ្យានៅថ្ងៃសៅរ៍។",
        "ការប្រឡងឆមាសទីមួយនឹងធ្វើឡើងនៅសប្តាហ៍ក្រោយ សូមសិស្សត្រៀមខ្លួនឱ្យបានល្អ។",
        "ពិធីបើកបវេសនកាលឆ្នាំសិក្សាថ្មីនឹងប្រារព្ធនៅទីធ្លាសាលា។",
        "សិស្សថ្នាក់ទី៤ បានដាំដើមឈើចំនួន៥០ដើមជុំវិញសាលា។",
    ],
    "health": [
        "មណ្ឌលសុខភាពនឹងចាក់វ៉ាក់សាំងការពារជំងឺកញ្ជ្រិលដល់កុមារអាយុក្រោមប្រាំឆ្នាំ នៅថ្ងៃពុធនេះ។",
        "សូមប្រជាពលរដ្ឋដាក់ទឹកអាបែតក្នុងពាងទឹក ដើម្បីការពារជំងឺគ្រុនឈាម។",
        "មណ្ឌលសុខភាពបើកសេវាពិនិត្យផ្ទៃពោះឥតគិតថ្លៃ រៀងរាល់ព្រឹកថ្ងៃអង្គារ និងថ្ងៃព្រហស្បតិ៍។",
        "ក្រុមគ្រូពេទ្យចល័តនឹងចុះពិនិត្យជំងឺទឹកនោមផ្អែម និងលើសឈាម នៅវត្តភូមិ ថ្ងៃអាទិត្យនេះ។",
        "ចាប់ពីខែនេះ មណ្ឌលសុខភាពបើកទ្វារពីម៉ោង៧ព្រឹក ដល់ម៉ោង៥ល្ងាច។",
        "សូមលាងដៃនឹងសាប៊ូឱ្យបានញឹកញាប់ ដើម្បីការពារជំងឺរាគរូសក្នុងរដូវវស្សា។",
        "ឆ្មបរបស់មណ្ឌលសុខភាពបានជួយសម្រាលកូនដោយសុវត្ថិភាព២៣ករណី ក្នុងខែមុន។",
        "មណ្ឌលសុខភាពបានទទួលគ្រែថ្មី និងឧបករណ៍វាស់សម្ពាធឈាមបន្ថែម។",
        "សូមនាំកូនមកថ្លឹងទម្ងន់ និងវាស់កម្ពស់ ដើម្បីតាមដានការលូតលាស់។",
        "ការប្រជុំអប់រំសុខភាពស្តីពីអាហារូបត្ថម្ភសម្រាប់ម្តាយ នៅសាលាឆទានភូមិ។",
    ],
    "local_administration": [
        "សាលាឃុំផ្តល់សេវាចុះបញ្ជីកំណើតរៀងរាល់ថ្ងៃធ្វើការ ដោយមិនគិតថ្លៃ។",
        "ក្រុមប្រឹក្សាឃុំនឹងរៀបចំវេទិកាសាធារណៈ ដើម្បីស្តាប់មតិប្រជាពលរដ្ឋអំពីគម្រោងឆ្នាំក្រោយ។",
        "ការជួសជុលផ្លូវក្រួសក្រហមពីភូមិថ្មីទៅផ្សារឃុំ នឹងចាប់ផ្តើមនៅខែក្រោយ។",
        "ក្រុមការងារនឹងធ្វើអត្តសញ្ញាណប័ណ្ណនៅសាលាឃុំ ថ្ងៃសុក្រនេះ ចាប់ពីម៉ោង៨ព្រឹក។",
        "សាលាឃុំបានបញ្ចប់ការជីកអណ្តូងទឹកស្អាតចំនួនបី នៅភូមិអូរឫស្សី។",
        "ប្រជាពលរដ្ឋអាចដាក់ពាក្យសុំប័ណ្ណសមធម៌នៅការិយាល័យឃុំ ដោយយកសៀវភៅគ្រួសារមកជាមួយ។",
        "ឃុំនឹងប្រមូលសំរាមតាមផ្លូវធំ រៀងរាល់ព្រឹកថ្ងៃសៅរ៍។",
        "របាយការណ៍ចំណូលចំណាយថវិកាឃុំប្រចាំឆមាស បានបិទផ្សាយនៅក្តារព័ត៌មានសាលាឃុំ។",
        "ឃុំបានដំឡើងអំពូលភ្លើងបំភ្លឺផ្លូវចំនួន២០ នៅតាមផ្លូវចូលភូមិ។",
        "ការបោះឆ្នោតជ្រើសរើសមេភូមិថ្មី នឹងធ្វើឡើងនៅចុងខែនេះ។",
    ],
}
POST_CALLS = [
    "សូមចែករំលែកបន្តដល់អ្នកភូមិផង។",
    "សូមចូលរួមឱ្យបានច្រើន។",
    "សូមផ្ញើសារមកទំព័រនេះ ដើម្បីចុះឈ្មោះ។",
    "សូមបញ្ចេញមតិរបស់អ្នកនៅខាងក្រោម។",
]

COMMENTS = {
    "education": {
        "positive": ["អរគុណលោកគ្រូអ្នកគ្រូច្រើន!", "ល្អណាស់ កូនខ្ញុំចូលចិត្តទៅរៀន", "សាលាស្អាតជាងមុនច្រើន"],
        "negative": ["គ្រូខ្វះ សិស្សរៀនមិនគ្រប់ម៉ោង", "បន្ទប់រៀនលេចទឹកពេលភ្លៀង", "សិស្សច្រើនពេក ក្នុងមួយថ្នាក់"],
        "question": ["តើក្មេងអាយុប្រាំមួយឆ្នាំអាចចុះឈ្មោះបានទេ?", "ត្រូវយកឯកសារអ្វីខ្លះមក?", "ចាប់ផ្តើមម៉ោងប៉ុន្មាន?"],
        "call": ["សូមបើកថ្នាក់ពេលល្ងាចសម្រាប់កូនអ្នកធ្វើការ", "សូមបន្ថែមគ្រូគណិតវិទ្យាផង"],
    },
    "health": {
        "positive": ["អរគុណគ្រូពេទ្យ កូនខ្ញុំចាក់វ៉ាក់សាំងហើយ", "បុគ្គលិកមណ្ឌលសុខភាពរួសរាយណាស់", "សាធុ! សេវាល្អ"],
        "negative": ["មណ្ឌលសុខភាពបិទលឿនពេក អ្នកធ្វើការមកមិនទាន់", "ថ្នាំអស់ញឹកញាប់ពេក", "រង់ចាំយូរណាស់ពេញមួយព្រឹក"],
        "question": ["ថ្ងៃណាដែរ?", "នៅភូមិខ្ញុំមានដែរឬទេ?", "ត្រូវបង់លុយទេ?"],
        "call": ["សូមបន្ថែមគ្រូពេទ្យប្រចាំការពេលយប់", "សូមចុះមកភូមិអូរឫស្សីផង"],
    },
    "local_administration": {
        "positive": ["អរគុណសាលាឃុំដែលយកចិត្តទុកដាក់", "ពិតជាមានប្រយោជន៍សម្រាប់អ្នកភូមិ", "ផ្លូវភ្លឺហើយ អរគុណ"],
        "negative": ["ផ្លូវនៅតែខូចដដែល មិនទាន់ជួសជុលទេ", "ធ្វើឯកសារយូរពេក", "សំរាមនៅតែគរនៅមុខផ្សារ"],
        "question": ["ត្រូវយកអ្វីខ្លះមកជាមួយ?", "ម៉ោងប៉ុន្មានដែរ?", "អ្នកនៅភូមិផ្សេងមកបានទេ?"],
        "call": ["សូមជួយជួសជុលផ្លូវទៅសាលាផង", "សូមឃុំមកមើលលូទឹកនៅភូមិខ្ញុំផង"],
    },
}
REPLIES = [
    "បាទ អាចបាន សូមយកសំបុត្រកំណើតមកជាមួយ។",
    "ចាប់ផ្តើមម៉ោង៨ព្រឹក។",
    "អរគុណសម្រាប់មតិ យើងនឹងពិនិត្យមើល។",
    "សូមផ្ញើទីតាំងមកទំព័រ យើងនឹងចុះពិនិត្យ។",
    "ឥតគិតថ្លៃទេ។",
]
FOLLOW_UPS = ["អរគុណច្រើន", "យល់ព្រម", "ខ្ញុំក៏ចង់ដឹងដែរ", "ត្រូវហើយ"]
GIVEN = ["សុខា", "ដារា", "វណ្ណា", "ស្រីនី", "សុភាព", "ចាន់ធី", "រតនា", "បុប្ផា", "សំណាង", "ពិសី", "មករា", "សុធា"]
FAMILY = ["ហេង", "ចាន់", "សុខ", "លី", "គឹម", "ម៉ៅ", "ស៊ុន", "ឈឹម"]

MBS_HEADER = [
    "Post ID", "Page ID", "Page name", "Title", "Description", "Duration (sec)", "Publish time", "Caption type",
    "Permalink", "Is crosspost", "Is share", "Post type", "Languages", "Custom labels", "Funded content status",
    "Data comment", "Date", "Impressions", "Reach", "Reactions, Comments and Shares", "Reactions", "Comments",
    "Shares", "Total clicks", "Link clicks", "Other Clicks", "Seconds viewed", "Views",
]  # fmt: skip


def graph_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def nested_post(post: dict[str, Any], thread: list[dict[str, Any]]) -> dict[str, Any]:
    """A post as the Graph API gives it with ``comments{...,comments{...}}`` nested: replies inside their comment."""
    replies: dict[str, list[dict[str, Any]]] = {}
    for item in thread:
        if "parent" in item:
            replies.setdefault(item["parent"]["id"], []).append({k: v for k, v in item.items() if k != "parent"})
    top = []
    for item in thread:
        if "parent" not in item:
            comment = dict(item)
            if item["id"] in replies:
                comment["comments"] = {"data": replies[item["id"]]}
            top.append(comment)
    return {**post, "comments": {"data": top, "summary": {"total_count": len(thread)}}}


def make_facebook(rng: random.Random) -> tuple[list[list[str]], dict[str, Any], dict[str, Any]]:
    """The Meta Business Suite rows, the Graph API comments response, and the page's posts with comments nested."""
    topics = [t for t in POSTS for _ in range(len(POSTS[t]))]
    order = [rng.choice(topics) for _ in range(40)]
    moments = sorted(
        START + timedelta(days=rng.randrange(DAYS), hours=rng.randint(7, 20), minutes=rng.randrange(60))
        for _ in range(40)
    )
    used: dict[str, int] = {t: 0 for t in POSTS}
    people = [f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}" for _ in range(45)]
    rows: list[list[str]] = []
    comments: list[dict[str, Any]] = []
    page_posts: list[dict[str, Any]] = []
    next_comment = 1
    for number, (topic, moment) in enumerate(zip(order, moments, strict=True), start=1):
        page_id, page_name = PAGES[topic]
        post_id = f"12210{number:013d}"
        text = POSTS[topic][used[topic] % len(POSTS[topic])]
        used[topic] += 1
        has_call = rng.random() < 0.45
        if has_call:
            text = f"{text} {rng.choice(POST_CALLS)}"
        video = rng.random() < 0.2
        interest = rng.lognormvariate(2.6 + (0.5 if has_call else 0.0) + (0.3 if topic == "health" else 0.0), 0.8)
        reactions = max(0, round(interest * rng.uniform(0.8, 1.2)))
        shares = round(interest * rng.uniform(0.02, 0.25))
        n_comments = min(12, int(rng.expovariate(1 / max(1.0, interest / 6))))
        thread: list[dict[str, Any]] = []
        for _ in range(n_comments):
            mood = rng.choices(["positive", "negative", "question", "call"], weights=[4, 3, 2, 2])[0]
            when = moment + timedelta(minutes=rng.randint(3, 60 * 48))
            comment_id = f"{post_id}_{next_comment:06d}"
            next_comment += 1
            thread.append(
                {
                    "id": comment_id,
                    "created_time": graph_time(when),
                    "from": {"name": rng.choice(people), "id": f"5000{rng.randrange(10**8):08d}"},
                    "message": rng.choice(COMMENTS[topic][mood]),
                    "like_count": int(rng.expovariate(0.4)),
                    "comment_count": 0,
                    "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post_id}?comment_id={comment_id}",
                }
            )
            if mood in ("question", "call", "negative") and rng.random() < 0.6:
                reply_id = f"{post_id}_{next_comment:06d}"
                next_comment += 1
                from_page = rng.random() < 0.7
                thread[-1]["comment_count"] = 1
                thread.append(
                    {
                        "id": reply_id,
                        "created_time": graph_time(when + timedelta(minutes=rng.randint(10, 600))),
                        "from": {"name": page_name, "id": page_id}
                        if from_page
                        else {"name": rng.choice(people), "id": f"5000{rng.randrange(10**8):08d}"},
                        "message": rng.choice(REPLIES) if from_page else rng.choice(FOLLOW_UPS),
                        "like_count": int(rng.expovariate(0.8)),
                        "comment_count": 0,
                        "parent": {"id": comment_id},
                        "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post_id}?comment_id={reply_id}",
                    }
                )
        comments.extend(thread)
        page_posts.append(
            nested_post(
                {
                    "id": f"{page_id}_{post_id}",
                    "message": text,
                    "created_time": graph_time(moment),
                    "from": {"name": page_name, "id": page_id},
                    "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post_id}",
                    "shares": {"count": shares},
                    "reactions": {"data": [], "summary": {"total_count": reactions}},
                },
                thread,
            )
        )
        impressions = round(interest * rng.uniform(30, 60))
        reach = round(impressions * rng.uniform(0.6, 0.9))
        clicks = round(impressions * rng.uniform(0.01, 0.05))
        title, description = ("", text) if rng.random() < 0.7 else (text, "")
        rows.append(
            [
                post_id,
                page_id,
                page_name,
                title,
                description,
                str(rng.randint(20, 180)) if video else "",
                moment.strftime("%m/%d/%Y %H:%M"),
                "",
                f"https://www.facebook.com/{page_id}/posts/{post_id}",
                "No",
                "No",
                "Videos" if video else rng.choice(["Photos", "Text", "Photos"]),
                "km",
                "",
                "",
                "",
                "Lifetime",
                f"{impressions:,}",
                f"{reach:,}",
                f"{reactions + len(thread) + shares:,}",
                f"{reactions:,}",
                str(len(thread)),
                str(shares),
                str(clicks),
                str(clicks // 3),
                str(clicks - clicks // 3),
                str(rng.randint(200, 4000)) if video else "",
                f"{round(impressions * 0.7):,}" if video else "",
            ]
        )
    paging = {"cursors": {"before": "QVFIUbefore", "after": "QVFIUafter"}}
    return rows, {"data": comments, "paging": paging}, {"data": page_posts, "paging": paging}


def make_telegram(rng: random.Random) -> dict[str, Any]:
    """One channel: service messages, plain and entity-list texts, replies and reactions."""
    name = "ព័ត៌មានឃុំស្វាយជ្រុំ"
    moment = datetime(2026, 9, 1, 8, 0, tzinfo=PHNOM_PENH)
    messages: list[dict[str, Any]] = []

    def stamp(when: datetime) -> dict[str, str]:
        return {"date": when.strftime("%Y-%m-%dT%H:%M:%S"), "date_unixtime": str(int(when.timestamp()))}

    messages.append(
        {
            "id": 1,
            "type": "service",
            **stamp(moment),
            "actor": name,
            "actor_id": "channel2000",
            "action": "create_channel",
            "title": name,
            "text": "",
            "text_entities": [],
        }
    )
    texts = [topic_posts[i] for i in range(4) for topic_posts in POSTS.values()]
    for number, text in enumerate(texts, start=2):
        moment += timedelta(hours=rng.randint(5, 40))
        body: Any = text
        if number % 3 == 0:
            body = [
                {"type": "bold", "text": "សេចក្តីជូនដំណឹង៖"},
                " " + text + " ",
                {"type": "link", "text": "https://t.me/example_commune"},
            ]
        message: dict[str, Any] = {
            "id": number,
            "type": "message",
            **stamp(moment),
            "from": name,
            "from_id": "channel2000",
            "text": body,
            "text_entities": [],
        }
        if rng.random() < 0.7:
            message["reactions"] = [
                {"type": "emoji", "count": rng.randint(1, 30), "emoji": e} for e in ("👍", "🙏")[: rng.randint(1, 2)]
            ]
        messages.append(message)
    messages.append(
        {
            "id": len(messages) + 1,
            "type": "service",
            **stamp(moment + timedelta(hours=1)),
            "actor": name,
            "actor_id": "channel2000",
            "action": "pin_message",
            "message_id": 4,
            "text": "",
            "text_entities": [],
        }
    )
    messages.append(
        {
            "id": len(messages) + 1,
            "type": "message",
            **stamp(moment + timedelta(hours=2)),
            "from": name,
            "from_id": "channel2000",
            "reply_to_message_id": 4,
            "text": "បន្ថែម៖ " + REPLIES[1],
            "text_entities": [],
        }
    )
    return {"name": name, "type": "public_channel", "id": 2000, "messages": messages}


def make_youtube(rng: random.Random) -> list[dict[str, Any]]:
    """Comments and replies on one health-education video, as youtube-comment-downloader writes them."""
    out: list[dict[str, Any]] = []
    moment = datetime(2026, 9, 20, 10, 0, tzinfo=PHNOM_PENH)
    pools = COMMENTS["health"]
    for number in range(1, 9):
        cid = f"Ugz{number:04d}example"
        mood = ["positive", "question", "negative", "call"][number % 4]
        moment += timedelta(hours=rng.randint(1, 30))
        votes = int(rng.expovariate(0.05))
        replies = 1 if mood == "question" else 0
        out.append(
            {
                "cid": cid,
                "text": rng.choice(pools[mood]),
                "time": f"{number} weeks ago",
                "author": f"@viewer{number}",
                "channel": f"UCexample{number:04d}",
                "votes": f"{votes / 1000:.1f}K" if votes >= 1000 else str(votes),
                "replies": str(replies),
                "photo": "",
                "heart": mood == "positive",
                "reply": False,
                "time_parsed": moment.timestamp(),
            }
        )
        if replies:
            out.append(
                {
                    "cid": f"{cid}.reply1",
                    "text": REPLIES[4],
                    "time": f"{number} weeks ago",
                    "author": "@healthcentre",
                    "channel": "UCexamplecentre",
                    "votes": "2",
                    "replies": "",
                    "photo": "",
                    "heart": False,
                    "reply": True,
                    "time_parsed": (moment + timedelta(hours=3)).timestamp(),
                }
            )
    return out


def write_all(folder: Path) -> list[Path]:
    """Write every example export under ``folder``; the same bytes on every run."""
    rng = random.Random(SEED)
    rows, graph, page = make_facebook(rng)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    posts = folder / "meta_business_suite_posts.csv"
    with open(posts, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MBS_HEADER)
        writer.writerows(rows)
    written.append(posts)
    comments = folder / "facebook_comments_graph.json"
    comments.write_text(json.dumps(graph, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    written.append(comments)
    nested = folder / "facebook_page_graph.json"
    nested.write_text(json.dumps(page, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    written.append(nested)
    telegram = folder / "telegram_result.json"
    telegram.write_text(json.dumps(make_telegram(rng), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    written.append(telegram)
    youtube = folder / "youtube_comments.jsonl"
    youtube.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in make_youtube(rng)), encoding="utf-8")
    written.append(youtube)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="folder to write")
    for path in write_all(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
