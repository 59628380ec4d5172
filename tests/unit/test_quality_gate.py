import pytest

from core.errors import EXIT_GATE, QualityGateError
from core.quality import RejectPolicy, check_reject_gate, gate_verdict


def test_amazon_ml_rule_allows_exactly_ten_thousand_rejects():
    assert gate_verdict(10**9, 10_000, RejectPolicy()) is None
    assert "10001 rows rejected" in gate_verdict(10**9, 10_001, RejectPolicy())


def test_fraction_policy():
    policy = RejectPolicy(max_fraction=0.1)
    assert gate_verdict(100, 10, policy) is None
    assert "over the allowed fraction 0.1" in gate_verdict(100, 11, policy)
    assert gate_verdict(0, 0, policy) is None


def test_tripped_gate_raises_exit_3_with_counts_and_reasons():
    with pytest.raises(QualityGateError) as error:
        check_reject_gate(100, 50, RejectPolicy(max_fraction=0.1), {"bad status": 30, "unparseable": 20})
    assert error.value.exit_code == EXIT_GATE
    assert "nothing was published" in str(error.value)
    assert "bad status: 30" in str(error.value)
    assert error.value.counts["rows_rejected"] == 50


def test_gate_message_says_where_the_rejects_are():
    with pytest.raises(QualityGateError) as stored:
        check_reject_gate(100, 50, RejectPolicy(max_fraction=0.1), quarantine="s3://b/lake/quarantine/job")
    assert "The rejected rows are in the quarantine (s3://b/lake/quarantine/job)" in str(stored.value)
    with pytest.raises(QualityGateError) as not_stored:
        check_reject_gate(100, 50, RejectPolicy(max_fraction=0.1))
    assert "were not stored" in str(not_stored.value) and "Inspect the quarantine" not in str(not_stored.value)
