"""The venv archive a step may run with (`--venv-archive`): checked to be self-contained, then shipped.

YARN and EMR Serverless unpack the archive as ./environment and run ./environment/bin/python.
An archive made by plain `venv-pack` keeps bin/python as a link to the interpreter of the
machine that built it (and pyvenv.cfg's `home` names that interpreter's folder); a node
without that interpreter at that path fails with `Cannot run program "./environment/bin/python"`
only once the cluster runs the step. So the launcher reads the archive first and refuses one
whose interpreter (a bin/python* link, or pyvenv.cfg's home) points outside the archive;
bootstrap/build_venv.sh builds one that carries its interpreter. A local archive is uploaded
like any shipped file (content-addressed); an s3:// one is read from S3 for the check.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from dataclasses import dataclass
from typing import IO, List, Optional

from deploy import files


class ArchiveError(ValueError):
    """The archive cannot serve as the step's Python; the message says what to do."""


@dataclass(frozen=True)
class Archive:
    """The archive the step gets (uri) and, for a local one, the file to upload."""

    uri: str
    local: Optional[str] = None


def _inside(member: str, target: str) -> bool:
    """Whether a link at `member` (archive path) with `target` stays inside the archive."""
    if posixpath.isabs(target):
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    return not resolved.startswith("..")


def interpreter_problems(members: List[tarfile.TarInfo], read) -> List[str]:
    """What makes the archive's interpreter live outside it; [] when bin/python is inside."""
    names = {m.name.lstrip("./") for m in members}
    problems = []
    pythons = [m for m in members if posixpath.basename(m.name).startswith("python") and "/bin/" in "/" + m.name]
    pythons = [m for m in pythons if posixpath.dirname(m.name.lstrip("./")) == "bin"]
    if not pythons:
        return ["it has no bin/python at its top (the step runs ./environment/bin/python)"]
    for member in pythons:
        if member.issym() and not _inside(member.name.lstrip("./"), member.linkname):
            problems.append(f"{member.name.lstrip('./')} links to {member.linkname}, outside the archive")
        elif member.issym():
            target = posixpath.normpath(posixpath.join("bin", member.linkname))
            if target not in names:
                problems.append(f"{member.name.lstrip('./')} links to {member.linkname}, which the archive lacks")
    cfg = next((m for m in members if m.name.lstrip("./") == "pyvenv.cfg"), None)
    if cfg is not None:
        for line in read(cfg).decode("utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and posixpath.isabs(value.strip()):
                problems.append(f"pyvenv.cfg's home is {value.strip()}, an interpreter outside the archive")
    return problems


def check(handle: IO[bytes], name: str) -> None:
    """Refuse an archive (a tar.gz stream) whose interpreter points outside it."""
    try:
        with tarfile.open(fileobj=handle, mode="r:*") as archive:
            members = archive.getmembers()
            problems = interpreter_problems(members, lambda m: archive.extractfile(m).read())
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArchiveError(f"--venv-archive {name}: not a readable tar archive ({error})") from None
    if problems:
        raise ArchiveError(
            f"--venv-archive {name}: {'; '.join(problems)}. The nodes have no such interpreter at that path; "
            "build a self-contained archive with bootstrap/build_venv.sh (it carries its own Python)"
        )


def plan(value: str, bucket: str) -> Archive:
    """Where the step finds the archive; a local one goes under artifacts/files/<sha256>/."""
    if not files.is_local(value):
        return Archive(uri=value)
    path = files.local_path(value, os.getcwd())
    if not os.path.isfile(path):
        raise ArchiveError(f"--venv-archive {value}: no such file")
    with open(path, "rb") as handle:
        check(handle, value)
    digest = files.file_sha256(path)
    return Archive(uri=f"{files.files_uri(bucket)}/{digest}/{os.path.basename(path)}", local=path)


def check_and_upload(s3, archive: Archive) -> None:
    """Check an archive already on S3 (a local one was checked by `plan`); upload a local one."""
    from deploy.logs import split_s3

    bucket, key = split_s3(archive.uri)
    if archive.local is None:
        check(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), archive.uri)
        return
    s3.upload_file(archive.local, bucket, key)
