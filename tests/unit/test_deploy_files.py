"""Local files that travel with the step (deploy.files) and the venv archive check (deploy.venv_archive)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile

import pytest

from core.cli import local_file, local_file_flags
from deploy import files, launcher, venv_archive
from jobs.main import JOBS, load_job


def test_every_job_flag_that_names_a_file_is_declared_local_file():
    declared = {}
    for job in JOBS:
        declared[job] = sorted(a.option_strings[-1] for a in local_file_flags(files.job_parser(job)))
    expected = {
        "ingest_dms": {"--tables"},
        "build_features": {"--config"},
        "nightly": {"--config"},
        "train": {"--data", "--schema", "--recipe"},
        "evaluate": {"--data"},
        "score": {"--data", "--schema"},
        "profile": {"--data", "--schema"},
    }
    for job, flags in expected.items():
        if job in declared:  # a job registered in jobs/main.py
            assert flags <= set(declared[job]), f"{job}: declare {sorted(flags - set(declared[job]))} type=local_file"


def test_values_are_found_in_every_spelling_argparse_takes():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=local_file)
    parser.add_argument("--data", type=local_file, nargs="+")
    parser.add_argument("--name")
    argv = ["--name", "x", "--conf=a.yaml", "--data", "d1.csv", "d2.csv", "--name", "y"]
    found = files.local_file_values(parser, argv)
    assert [(i, flag, value, inline) for i, flag, value, inline in found] == [
        (2, "--config", "a.yaml", True),
        (4, "--data", "d1.csv", False),
        (5, "--data", "d2.csv", False),
    ]


def test_ship_plan_rewrites_local_paths_keeps_uris_and_names_content_keys(tmp_path):
    conf = tmp_path / "dms.yaml"
    conf.write_text("tables: []\n")
    argv = ["--input", "s3://b/raw", "--tables", str(conf)]
    out, shipped = files.ship_plan("ingest_dms", argv, "bkt")
    digest = hashlib.sha256(conf.read_bytes()).hexdigest()
    assert out == ["--input", "s3://b/raw", "--tables", f"s3://bkt/artifacts/files/{digest}/dms.yaml"]
    assert shipped[0].uploads == ((str(conf), out[-1]),)
    same, none = files.ship_plan("ingest_dms", ["--tables", "s3://b/conf/dms.yaml"], "bkt")
    assert same == ["--tables", "s3://b/conf/dms.yaml"] and none == []
    relative, _ = files.ship_plan("ingest_dms", ["--tables", "dms.yaml"], "bkt", cwd=str(tmp_path))
    assert relative[-1] == out[-1]  # a relative path is read from where the user stands


def test_references_outside_the_confs_folder_or_missing_are_refused(tmp_path):
    conf = tmp_path / "conf" / "f.yaml"
    conf.parent.mkdir()
    conf.write_text("schema_file: ../schema.json\n")
    with pytest.raises(files.ShipError, match="outside its folder"):
        files.ship_plan("build_features", ["--config", str(conf)], "b")
    conf.write_text("schema_file: /etc/schema.json\n")
    with pytest.raises(files.ShipError, match="outside its folder"):
        files.ship_plan("build_features", ["--config", str(conf)], "b")
    conf.write_text("recipe_file: missing.txt\n")
    with pytest.raises(files.ShipError, match="does not exist"):
        files.ship_plan("build_features", ["--config", str(conf)], "b")
    conf.write_text("schema_file: s3://b/schema.json\n")  # already reachable from the cluster
    assert len(files.ship_plan("build_features", ["--config", str(conf)], "b")[1][0].uploads) == 1


def tar_gz(entries) -> bytes:
    """A tar.gz with (name, kind, data) entries: kind 'file' or 'link' (data: target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, data
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_venv_archive_whose_interpreter_points_outside_it_is_refused(tmp_path):
    venv_pack = tar_gz([("bin/python", "link", "/usr/bin/python3.11"), ("pyvenv.cfg", "file", b"home = /usr/bin\n")])
    with pytest.raises(venv_archive.ArchiveError, match=r"bin/python links to /usr/bin/python3.11.*build_venv.sh"):
        venv_archive.check(io.BytesIO(venv_pack), "venv.tar.gz")
    escaping = tar_gz([("./bin/python", "link", "../../python3")])
    with pytest.raises(venv_archive.ArchiveError, match="outside the archive"):
        venv_archive.check(io.BytesIO(escaping), "x")
    with pytest.raises(venv_archive.ArchiveError, match="no bin/python"):
        venv_archive.check(io.BytesIO(tar_gz([("lib/x.py", "file", b"")])), "x")
    standalone = tar_gz(
        [("./bin/python3.11", "file", b"\x7fELF"), ("./bin/python", "link", "python3.11"), ("./lib/os.py", "file", b"")]
    )
    venv_archive.check(io.BytesIO(standalone), "ok.tar.gz")  # carries its interpreter: accepted


def test_launcher_refuses_a_venv_pack_archive_before_any_aws_call(tmp_path, capsys):
    archive = tmp_path / "venv.tar.gz"
    archive.write_bytes(tar_gz([("bin/python", "link", "/usr/bin/python3")]))
    argv = ["doctor", "--lake", "s3://l/x", "--cluster-id", "j-1", "--bucket", "b", "--venv-archive", str(archive)]
    assert launcher.main(argv, environ={}) == 2
    assert "outside the archive" in capsys.readouterr().err
    good = tmp_path / "env.tar.gz"
    good.write_bytes(tar_gz([("bin/python3.11", "file", b"x"), ("bin/python", "link", "python3.11")]))
    argv[-1] = str(good)
    assert launcher.main([*argv, "--dry-run"], environ={}) == 0
    printed = json.loads(capsys.readouterr().out)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    args = printed["AddJobFlowSteps"]["Steps"][0]["HadoopJarStep"]["Args"]
    assert f"spark.archives=s3://b/artifacts/files/{digest}/env.tar.gz#environment" in args


def test_a_summary_gives_the_jobs_own_exit_code():
    from deploy import watch

    assert watch.outcome_code({"status": "gate_tripped", "exit_code": 3}, "FAILED") == 3
    assert watch.outcome_code({"status": "failed", "exit_code": 2}, "FAILED") == 2
    assert watch.outcome_code({"status": "gate_tripped"}, "FAILED") == 3  # a summary from before exit_code
    assert watch.outcome_code(None, "COMPLETED") == 0 and watch.outcome_code(None, "FAILED") == 1


def test_every_job_module_loads_for_its_parser():
    for job in JOBS:
        assert hasattr(load_job(job), "add_arguments")


def test_a_local_path_left_in_the_flags_is_refused(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    with pytest.raises(files.ShipError, match=r"--input .* is a path on this machine"):
        files.refuse_local_paths(["--source", "web", "--input", str(logs)])
    with pytest.raises(files.ShipError, match="--input"):
        files.refuse_local_paths([f"--input=file://{logs}"])
    files.refuse_local_paths(
        ["--source", "logs", "--input", "s3://b/raw/logs", "--run-date", "2026-11-21"], str(tmp_path)
    )
