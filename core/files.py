"""Input files of the ingest jobs: listing a prefix, and reading listed files by their literal names.

One spelling of a file everywhere: its canonical URI as listed (`file:///x/a b.log`, `s3://b/k`), the
literal name with no percent-encoding, in tables (`source_file`), ledgers and summaries alike.
- Listing skips hidden and underscore entries (`.x`, `_SUCCESS`, any folder so named), as Hadoop's
  readers do, and reports them (`ignored`) so that a summary can count them.
- Spark's readers take paths as glob patterns: a listed `star*.log` would also read `star1.log`, and
  `br[1].log` would match nothing. `read_paths` escapes the metacharacters, so each path names
  exactly the one file listed.
- `input_file_name()` gives a file's URI percent-encoded (`a%20b.log`); `source_file_col` turns it back
  into the listed spelling.
- Zero-byte files are inputs with no lines (a zero-byte `.gz` included): a job takes them without
  handing them to Spark (whose gzip reader fails on them); FileInfo.size tells them apart.
Hadoop cannot name a file whose name holds `:` (a relative path would read as a URI scheme); such a
file fails the listing with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from core.errors import LakemlError, UsageError
from core.lake import FileInfo, canonical_uri, canonical_uri_col, hadoop_path, normalize_uri, spark_uri

GLOB_METACHARACTERS = "\\{}[]*?"
HIDDEN_PREFIXES = ("_", ".")


@dataclass(frozen=True)
class Listing:
    """The files under a prefix: visible files sorted by URI, and the hidden ones skipped."""

    files: List[FileInfo] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    exists: bool = True


def is_hidden(relative: str) -> bool:
    """True when any part of a path below the prefix starts with `_` or `.`."""
    return any(part.startswith(HIDDEN_PREFIXES) for part in relative.split("/") if part)


def glob_escape(path: str) -> str:
    """A path with Hadoop's glob metacharacters backslash-escaped, so that it matches only itself."""
    return "".join("\\" + ch if ch in GLOB_METACHARACTERS else ch for ch in path)


def read_paths(uris: Sequence[str]) -> List[str]:
    """The paths to give Spark's readers for listed files: the session's scheme, globbing escaped."""
    return [glob_escape(spark_uri(uri)) for uri in uris]


def source_file_col(col=None):
    """The listed (literal, canonical) URI of each row's file, from input_file_name() or another column of it.

    Spark spells the file as java.net.URI's string (percent-encoded, `+` left as is): `+` is protected
    before url_decode, which would read it as a space.
    """
    from pyspark.sql import functions as F

    name = F.input_file_name() if col is None else col
    return canonical_uri_col(F.url_decode(F.regexp_replace(name, r"\+", "%2B")))


def list_tree(spark, uri: str) -> Listing:
    """Every file under a URI (or the file itself), recursively; hidden entries apart; missing: exists False."""
    fs, path = hadoop_path(spark, uri)
    if not fs.exists(path):
        return Listing(exists=False)
    base = normalize_uri(uri, "path")
    found, ignored = [], []
    try:
        iterator = fs.listFiles(path, True)
        while iterator.hasNext():
            status = iterator.next()
            file_uri = canonical_uri(status.getPath().toString())
            if is_hidden(file_uri[len(base) :]):
                ignored.append(file_uri)
                continue
            found.append(FileInfo(file_uri, int(status.getLen()), int(status.getModificationTime())))
    except Exception as error:  # py4j wraps Hadoop's IllegalArgumentException for a name it cannot hold
        raise LakemlError(f"cannot list {uri}: {str(error).splitlines()[0][:300]}; rename the file") from None
    return Listing(sorted(found, key=lambda f: f.uri), sorted(ignored))


def list_files(spark, uri: str) -> List[FileInfo]:
    """Every visible file under a URI, recursively, sorted by URI."""
    return list_tree(spark, uri).files


def list_input(spark, uri: str, flag: str = "--input") -> Listing:
    """list_tree of a flag's prefix; a prefix that does not exist is a usage error naming the flag (exit 2)."""
    listing = list_tree(spark, uri)
    if not listing.exists:
        raise UsageError(f"{flag} {uri}: no such file or folder; check the path (nothing was read)")
    return listing
