"""The name rule and the class-column rule over hostile alphabets (newlines, `..`, slashes, case variants
of reserved names, Unicode): one name is one folder, and every class label list gives scorable columns."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.cli import parse_job_args
from core.errors import UsageError
from core.names import check_name, is_name
from jobs.main import load_job
from ml.outputs import RESERVED, class_columns

HOSTILE = st.lists(st.sampled_from([*"aZ09_.-/\\\n\r\t `'\"éß", "..", "\u2028", "\x00"]), max_size=12).map("".join)


@given(HOSTILE)
def test_a_name_is_one_plain_path_segment(value):
    if is_name(value):
        assert "/" not in value and "\\" not in value and value not in (".", "..")
        assert value == value.strip() and "\n" not in value and value[0].isalnum()
    else:
        with pytest.raises(UsageError, match="--name"):
            check_name(value, "--name")


@pytest.mark.parametrize("name", ["adult\n", "adult\r\n", "../evil", "..", "a/b", " adult", "adult ", "", "_x"])
def test_careless_names_are_refused_by_every_job_before_spark(name):
    for job, argv in (
        ("train", ["--name", name, "--model-type", "BINARY", "--data", "x.csv"]),
        ("score", ["--name", name, "--data", "x.csv"]),
        ("evaluate", ["--name", name, "--data", "x.csv"]),
        ("models", ["--name", name]),
        ("profile", ["--table", name]),
        ("train", ["--name", "ok", "--model-type", "BINARY", "--table", name, "--schema", "s"]),
        ("score", ["--name", "ok", "--features", name]),
    ):
        with pytest.raises(SystemExit) as stop:
            parse_job_args(job, load_job(job), argv)
        assert stop.value.code == 2, (job, argv)


LABEL = st.lists(st.sampled_from([*"aAtTgG_.` ,;=\n(){}é1", "Tag", "RUN_ID", "Score"]), max_size=8).map("".join)


@given(st.lists(LABEL, min_size=2, max_size=8, unique=True))
def test_class_columns_are_unique_and_never_reserved_whatever_the_case(labels):
    names = class_columns(labels)
    folded = [n.lower() for n in names]
    assert len(set(folded)) == len(names)
    assert not set(folded) & {r.lower() for r in RESERVED}
    for name in names:
        assert name and not name.startswith("_") and not set(name) & set(" ,;{}()\n\t=.`")


def test_the_labels_of_the_defect_become_distinct_columns():
    assert class_columns(["Tag", "Run_Id", "low"]) == ["p_Tag", "p_Run_Id", "low"]
    assert class_columns(["", "a.b", "a`b", "A_B"]) == ["p__", "a_b", "a_b_", "A_B__"]
