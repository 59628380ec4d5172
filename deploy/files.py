"""Local files named by a job's flags travel with the step, or the run stops before any AWS call.

A flag names a file the job reads when its parser declares it with `type=local_file`
(core.cli): `ingest_dms --tables`, `build_features --config`, the ML jobs' schema,
recipe and data flags. For each such flag whose value is a local path (or file://), the
launcher uploads the file to

    s3://BUCKET/artifacts/files/<sha256>/<name>

and the step gets that URI instead of the path the cluster cannot read. The key is the
content's SHA-256, so the same file lands once and a changed file never overwrites the one
an earlier step read. A CONF (YAML or JSON) that names other files in fields ending in
`_file` (build_features' `schema_file`, `recipe_file`) takes them along at the same relative
paths, and then the digest covers the CONF and every file it names. What cannot travel (a
folder, an absolute or `..` reference inside a CONF) is refused with what to do instead.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
REF_SUFFIX = "_file"  # a CONF field naming another file (schema_file, recipe_file)
CONF_SUFFIXES = (".yaml", ".yml", ".json")


class ShipError(ValueError):
    """A flag's file cannot travel with the step; the message says what to do."""


@dataclass(frozen=True)
class Shipped:
    """One flag's local file: the URI the step gets, and the uploads that make it exist."""

    flag: str
    local: str
    uri: str
    uploads: Tuple[Tuple[str, str], ...]  # (local path, s3 URI)


def job_parser(job: str):
    """The job's full argument parser (common flags and its own), as `python -m jobs JOB` builds it."""
    from core.cli import base_parser
    from jobs.main import load_job

    module = load_job(job)
    parser = base_parser(job, module.HELP)
    module.add_arguments(parser)
    return parser


def is_local(value: str) -> bool:
    """A plain path or file:// URI (anything without another scheme)."""
    return value.startswith("file://") or not URI_SCHEME.match(value)


def local_path(value: str, cwd: str) -> str:
    """The absolute path a local flag value names (relative paths from cwd)."""
    path = value[len("file://") :] if value.startswith("file://") else value
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))


def _action_for(token: str, actions) -> Optional[object]:
    """The action a `--flag` or `--flag=value` token names, abbreviations included (as argparse takes them)."""
    name = token.split("=", 1)[0]
    exact = [a for a in actions if name in a.option_strings]
    if exact:
        return exact[0]
    prefixed = [a for a in actions if any(o.startswith(name) and o.startswith("--") for o in a.option_strings)]
    return prefixed[0] if len(prefixed) == 1 else None


def _value_count(action, argv: Sequence[str], start: int) -> int:
    """How many tokens after the flag at argv[start] are its values."""
    if isinstance(action.nargs, int):
        return action.nargs
    if action.nargs in ("+", "*"):
        end = start + 1
        while end < len(argv) and not argv[end].startswith("-"):
            end += 1
        return end - start - 1
    return 1


def local_file_values(parser, argv: Sequence[str]) -> List[Tuple[int, str, str, bool]]:
    """(index, flag, value, inline) of every value of a `local_file` flag in argv (inline: `--flag=value`)."""
    from core.cli import local_file_flags

    long_actions = [a for a in parser._actions if any(o.startswith("--") for o in a.option_strings)]
    marked = set(id(a) for a in local_file_flags(parser))
    found = []
    for i, token in enumerate(argv):
        if token == "--":
            break
        if not token.startswith("--"):
            continue
        action = _action_for(token, long_actions)
        if action is None or id(action) not in marked:
            continue
        flag = action.option_strings[-1]
        if "=" in token:
            found.append((i, flag, token.split("=", 1)[1], True))
            continue
        for j in range(i + 1, i + 1 + _value_count(action, argv, i)):
            if j < len(argv):
                found.append((j, flag, argv[j], False))
    return found


def references(path: str) -> List[str]:
    """Paths in a CONF's `*_file` fields (any depth), as written; [] for files that are no CONF."""
    if not path.endswith(CONF_SUFFIXES):
        return []
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)  # JSON is YAML
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # the job's own check reports a bad CONF
    found: List[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).endswith(REF_SUFFIX) and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return found


def _checked_refs(flag: str, conf: str) -> List[Tuple[str, str]]:
    """(relative name, absolute path) of the local files a CONF names; refuses what cannot travel."""
    refs = []
    for ref in references(conf):
        if not is_local(ref):
            continue  # an s3:// reference works on the cluster as it is
        rel = ref[len("file://") :] if ref.startswith("file://") else ref
        if os.path.isabs(rel) or os.path.normpath(rel).startswith(".."):
            raise ShipError(
                f"{flag} {conf}: it names {ref!r}, a file outside its folder, which the cluster cannot read; "
                "name it relative to the CONF's folder (beside or below it), or upload it and give its s3:// URI"
            )
        rel = os.path.normpath(rel).replace(os.sep, "/")
        full = os.path.join(os.path.dirname(conf), rel)
        if not os.path.isfile(full):
            raise ShipError(f"{flag} {conf}: the file it names, {ref!r}, does not exist at {full}")
        refs.append((rel, full))
    return sorted(set(refs))


def file_sha256(path: str) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_digest(path: str, refs: List[Tuple[str, str]]) -> str:
    """The file's SHA-256; with references, the SHA-256 of every (name, digest) of the CONF and its files."""
    if not refs:
        return file_sha256(path)
    lines = [f"{os.path.basename(path)}:{file_sha256(path)}"]
    lines += [f"{rel}:{file_sha256(full)}" for rel, full in refs]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def files_uri(bucket: str) -> str:
    """Where shipped files live: s3://BUCKET/artifacts/files."""
    return f"s3://{bucket}/artifacts/files"


def ship_one(flag: str, value: str, bucket: str, cwd: str) -> Shipped:
    """The upload plan of one local flag value; ShipError when it cannot travel."""
    path = local_path(value, cwd)
    if os.path.isdir(path):
        raise ShipError(
            f"{flag} {value}: a local folder cannot travel with the step; upload it "
            f"(aws s3 sync {value} s3://{bucket}/<prefix>/) and give that s3:// URI"
        )
    if not os.path.isfile(path):
        raise ShipError(f"{flag} {value}: no such file ({path}); give an existing file or an s3:// URI")
    refs = _checked_refs(flag, path)
    folder = f"{files_uri(bucket)}/{bundle_digest(path, refs)}"
    uri = f"{folder}/{os.path.basename(path)}"
    uploads = ((path, uri), *((full, f"{folder}/{rel}") for rel, full in refs))
    return Shipped(flag=flag, local=path, uri=uri, uploads=uploads)


def ship_plan(job: str, argv: List[str], bucket: str, cwd: Optional[str] = None) -> Tuple[List[str], List[Shipped]]:
    """The job's argv with every local file flag's value replaced by its S3 URI, and what to upload."""
    cwd = cwd or os.getcwd()
    out = list(argv)
    shipped: List[Shipped] = []
    for index, flag, value, inline in local_file_values(job_parser(job), argv):
        if not is_local(value):
            continue
        one = ship_one(flag, value, bucket, cwd)
        shipped.append(one)
        out[index] = f"{argv[index].split('=', 1)[0]}={one.uri}" if inline else one.uri
    return out, shipped


def refuse_local_paths(argv: List[str], cwd: Optional[str] = None) -> None:
    """Refuse a local path left in the job's flags (a folder such as --input ./logs): the cluster cannot read it."""
    cwd = cwd or os.getcwd()
    for flag, value in zip(argv, [*argv[1:], ""]):
        for text in (value, flag.split("=", 1)[1] if flag.startswith("--") and "=" in flag else ""):
            looks_like_path = text.startswith(("file://", "./", "../", "/", "~")) or os.sep in text
            if text and not URI_SCHEME.match(text.replace("file://", "", 1)) and looks_like_path:
                if is_local(text) and os.path.exists(local_path(text, cwd)):
                    name = flag.split("=", 1)[0] if "=" in flag else flag
                    raise ShipError(
                        f"{name} {text} is a path on this machine, which the cluster cannot read; upload it "
                        f"(aws s3 sync or aws s3 cp) and give its s3:// URI"
                    )


def upload(s3, shipped: List[Shipped]) -> None:
    """Upload each shipped file (skipping keys that already hold it: the key is its content)."""
    from botocore.exceptions import ClientError

    for one in shipped:
        for path, uri in one.uploads:
            bucket, _, key = uri[len("s3://") :].partition("/")
            try:
                if s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == os.path.getsize(path):
                    continue
            except ClientError:
                pass
            s3.upload_file(path, bucket, key)
