"""The analyst questions in README.md, run as written against a real output."""

import re
from pathlib import Path

import duckdb
import pytest

from pipeline import report
from pipeline.local import run_local, write_output

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(language: str) -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Analyst questions", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture(scope="module")
def output(sample_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("readme-out")
    write_output(run_local([sample_corpus / "corpus"], run_id="r1"), out, "r1")
    report.write_views(out)
    return out


def test_readme_has_three_sql_questions_and_one_pandas_one():
    assert len(blocks("sql")) == 3 and len(blocks("python")) == 1


@pytest.mark.parametrize("number", [0, 1, 2])
def test_sql_questions_run_and_answer(output, number):
    con = duckdb.connect(str(output / "wiretrace.duckdb"), read_only=True)
    rows = con.execute(blocks("sql")[number]).fetchall()
    assert rows and all(row[0] for row in rows)


def test_pandas_question_runs(output, capsys):
    code = blocks("python")[0].replace("output/wiretrace.duckdb", str(output / "wiretrace.duckdb"))
    exec(compile(code, "README", "exec"), {})
    printed = capsys.readouterr().out
    assert "size" in printed and "sources" in printed
