"""``khmer-civic report``: the page and the workbook from a labelled file; usage errors exit 2."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_data import PLATFORM_COLUMNS, hand_rows, labelled, write_labelled  # noqa: E402

from khmer_civic.model.config import load_config  # noqa: E402
from khmer_civic.model.registry import default_model_dir  # noqa: E402

pytest.importorskip("statsmodels")


@pytest.fixture(scope="module")
def bundled_schema():
    return load_config(default_model_dir()).schema


@pytest.fixture()
def labelled_file(tmp_path: Path, bundled_schema) -> Path:
    return write_labelled(tmp_path / "labelled.csv", hand_rows(bundled_schema), bundled_schema, PLATFORM_COLUMNS)


def test_writes_the_page_and_the_workbook(labelled_file: Path, tmp_path: Path):
    page, book = tmp_path / "report.html", tmp_path / "report.xlsx"
    result = run("report", labelled_file, "-o", page, "--xlsx", book, "--period", "week", "--lang", "km")
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="km">' in html
    assert "2026-W41" in html and load_config(default_model_dir()).name in html  # weekly periods; the bundled model
    sheets = load_workbook(book).sheetnames
    assert {"overview", "label_status", "topics_sentiment", "cta_by_topic", "engagement_medians",
            "engagement_rate_ratio", "post_comment_sentiment", "examples", "model"} <= set(sheets)  # fmt: skip
    assert "report: 10 rows (8 labelled)" in result.stderr
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_plain_dump_without_platform_columns(tmp_path: Path, bundled_schema):
    rows = [{"message": "សាលារៀន", "created_time": "2026-10-02T08:14:00"} | labelled(bundled_schema, topics=["education"])]
    rows.append({"message": None, "created_time": None} | labelled(bundled_schema, status="empty"))
    path = write_labelled(tmp_path / "dump.jsonl", rows, bundled_schema, ["message", "created_time"])
    result = run("report", path, "-o", tmp_path / "r.html", "--quiet")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The data has no engagement columns" in html and "2026-10" in html
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args, expected",
    [
        (["missing.csv", "-o", "r.html"], "does not exist"),
        (["{labelled}", "-o", "r.html", "--period", "year"], "'year' is not one of"),
        (["{labelled}", "-o", "r.html", "--lang", "fr"], "'fr' is not one of"),
        (["{labelled}", "-o", "r.pdf"], "must end in .html"),
        (["{labelled}", "-o", "r.html", "--xlsx", "r.csv"], "must end in .xlsx"),
        (["{labelled}", "-o", "no/such/folder/r.html"], "does not exist"),
        (["{labelled}", "-o", "r.html", "--model", "no-such-model-name"], "no-such-model-name"),
    ],
)
def test_usage_errors_exit_2(labelled_file: Path, tmp_path: Path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    result = run("report", *(a.format(labelled=labelled_file) for a in args))
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


def test_an_unlabelled_table_is_refused(tmp_path: Path):
    path = tmp_path / "raw.csv"
    path.write_text("message\nសួស្តី\n", encoding="utf-8")
    line = one_error_line(run("report", path, "-o", tmp_path / "r.html"), 2)
    assert "label_status" in line and "khmer-civic label" in line


def test_without_the_report_extra_it_names_the_install_line(labelled_file: Path, tmp_path: Path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "statsmodels" else real(name, *a))
    line = one_error_line(run("report", labelled_file, "-o", tmp_path / "r.html"), 2)
    assert "report extra" in line and "pip install" in line and "[report]" in line
    assert not (tmp_path / "r.html").exists()
