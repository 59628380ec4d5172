import pytest

from core.errors import UsageError
from core.session import ALWAYS_CONF, local_conf, local_jars, s3a_conf, session_conf

JAR_NAMES = [
    "delta-spark_2.12-3.3.2.jar",
    "delta-storage-3.3.2.jar",
    "hadoop-aws-3.3.4.jar",
    "aws-java-sdk-bundle-1.12.262.jar",
]


@pytest.fixture
def jars_dir(tmp_path):
    for name in JAR_NAMES:
        (tmp_path / name).write_bytes(b"PK")
    return tmp_path


def test_loopback_endpoint_may_use_plain_http():
    conf = s3a_conf("http://127.0.0.1:5000")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert s3a_conf("http://localhost:9000")["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"


def test_remote_endpoint_must_use_https():
    with pytest.raises(UsageError, match="loopback"):
        s3a_conf("http://10.0.0.5:9000")
    assert s3a_conf("https://s3.example.com")["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"


def test_endpoint_must_be_a_url():
    with pytest.raises(UsageError, match="LAKEML_S3_ENDPOINT"):
        s3a_conf("127.0.0.1:5000")


def test_local_jars_lists_all_four(jars_dir):
    assert sorted(p.rsplit("/", 1)[1] for p in local_jars(str(jars_dir))) == sorted(JAR_NAMES)


def test_missing_jar_is_named(jars_dir):
    (jars_dir / "hadoop-aws-3.3.4.jar").unlink()
    with pytest.raises(UsageError, match=r"hadoop-aws.*bootstrap/local\.sh"):
        local_jars(str(jars_dir))


def test_no_jar_folder_tells_how_to_set_up():
    with pytest.raises(UsageError, match=r"spark-submit\.sh local"):
        local_jars(None)


def test_local_conf_has_jars_credentials_chain_and_master(jars_dir):
    conf = local_conf(str(jars_dir), None, None)
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.jars"].count(".jar") == 4
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("DefaultAWSCredentialsProviderChain")
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert local_conf(str(jars_dir), "http://127.0.0.1:1", "local[1]")["spark.master"] == "local[1]"


def test_emr_target_adds_only_delta_and_utc(monkeypatch):
    monkeypatch.setenv("LAKEML_TARGET", "emr")
    monkeypatch.delenv("LAKEML_JARS_DIR", raising=False)
    assert session_conf() == ALWAYS_CONF
    assert ALWAYS_CONF["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
