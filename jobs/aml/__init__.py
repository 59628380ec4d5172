"""aml: Amazon Machine Learning's own API (machinelearning 2014-12-12) in front of lakeml's jobs.

    ./spark-submit.sh local aml serve --lake URI [--host 127.0.0.1] [--port 8091] [--require-signature]
        [--target local|emr --emr-flags '--cluster-id j-XXX ...']
    ./spark-submit.sh local aml create-ml-model --cli-input-json file://req.json --lake URI

`serve` answers `boto3.client("machinelearning", endpoint_url=...)` and `aws machinelearning ... --endpoint-url`
unchanged; every other command is one operation by the AWS CLI's name, its request from --cli-input-json,
printing the service's answer. Entities are JSON documents under <lake>/aml/; the work runs as lakeml jobs
(train, evaluate, score, profile) in background processes, locally or as EMR steps (`--target emr`). Neither
form builds a Spark session. Rules and differences from the service: docs/amazon-ml-api.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

HELP = "Amazon ML's API (boto3, aws machinelearning) on the lake: `serve`, or one operation from a request file"
WITHOUT_SPARK = True  # core.cli.run_job hands the whole argv to main()
DEFAULT_PORT = 8091


def add_arguments(parser) -> None:
    parser.add_argument("command", help="serve, or an operation's AWS CLI name (create-ml-model, predict, ...)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="the command's flags")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", default=os.environ.get("LAKEML_LAKE", "./lake"), help="lake root (local or s3://)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--target", default="local", choices=["local", "emr"], help="where the jobs run")
    parser.add_argument(
        "--emr-flags",
        default="",
        help="with --target emr: the launcher's flags for every job, e.g. '--cluster-id j-XXX --bucket B'",
    )


def target_of(args) -> tuple:
    """The jobs' target as recorded in entities; UsageError-style SystemExit 2 for EMR on a local lake."""
    import shlex

    from core.lake import is_s3, normalize_uri

    if args.target == "local":
        return ("local",)
    if not is_s3(normalize_uri(args.lake)):
        print("lakeml aml: --target emr needs an s3:// --lake (the cluster reads and writes the lake)", file=sys.stderr)
        raise SystemExit(2)
    return ("emr", *shlex.split(args.emr_flags))


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spark-submit.sh local aml serve", description=HELP)
    _common(parser)
    parser.add_argument("--host", default="127.0.0.1", help="bind address; anything but loopback requires SigV4")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    parser.add_argument("--require-signature", action="store_true", help="verify SigV4 on loopback too")
    parser.add_argument("--max-body", type=int, default=1024 * 1024, help="largest request body in bytes")
    parser.add_argument("--endpoint-url", default=None, help="EndpointUrl to give out (default: this server's URL)")
    return parser


def operation_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"spark-submit.sh local aml {command}", description=HELP)
    _common(parser)
    parser.add_argument("--cli-input-json", default="{}", help="the request: file://req.json or JSON text")
    parser.add_argument(
        "--endpoint-url",
        default=f"http://127.0.0.1:{DEFAULT_PORT}",
        help="the server URL CreateRealtimeEndpoint records as EndpointUrl",
    )
    return parser


def serve(argv: List[str]) -> int:
    """Start the server in the foreground: reconcile leftover work, then answer until stopped."""
    import socket

    from core.log import configure_logging, logger
    from core.session import is_loopback
    from jobs.aml import runner
    from jobs.aml.auth import configured_credentials
    from jobs.aml.entities import Store
    from jobs.aml.operations import Context
    from jobs.aml.server import AmlServer

    args = serve_parser().parse_args(argv)
    configure_logging(args.log_level)
    credentials = configured_credentials()
    needs_signature = args.require_signature or not is_loopback(args.host)
    if needs_signature and credentials is None:
        print(
            f"lakeml aml: binding {args.host} requires SigV4 verification: set LAKEML_AML_ACCESS_KEY_ID and "
            "LAKEML_AML_SECRET_ACCESS_KEY to the credentials callers sign with",
            file=sys.stderr,
        )
        return 2
    store = Store(args.lake)
    ctx = Context(store, "", runner.start_worker, target_of(args))
    server = AmlServer((args.host, args.port), ctx, credentials if needs_signature else None, args.max_body)
    host = socket.gethostname() if args.host in ("0.0.0.0", "::", "") else args.host
    ctx.url = args.endpoint_url or f"http://{host}:{server.server_address[1]}"
    for line in runner.reconcile(store):
        logger.info("aml reconcile: %s", line)
    auth = "SigV4 verified for every request" if needs_signature else "loopback only, no signature check"
    print(f"lakeml aml: serving Amazon ML's API for {store.root} at {ctx.url} ({auth})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def request_from(value: str) -> dict:
    """The request of --cli-input-json: a file:// path or JSON text."""
    text = value
    if value.startswith("file://"):
        with open(value[len("file://") :], encoding="utf-8") as handle:
            text = handle.read()
    return json.loads(text)


def run_operation(command: str, argv: List[str]) -> int:
    """One operation without a server: print the answer JSON (exit 0) or the service's error (exit 2, 1)."""
    from jobs.aml import runner
    from jobs.aml.entities import Store
    from jobs.aml.operations import Context, call
    from jobs.aml.protocol import AmlError, operation_of_cli

    try:
        name = operation_of_cli(command)
    except ValueError as error:
        print(f"lakeml aml: {error}", file=sys.stderr)
        return 2
    args = operation_parser(command).parse_args(argv)
    store = Store(args.lake)
    if name.startswith(("Get", "Describe")):
        runner.reconcile(store)
    try:
        ctx = Context(store, args.endpoint_url, runner.start_worker, target_of(args))
        body = call(ctx, name, request_from(args.cli_input_json))
    except (OSError, ValueError) as error:
        print(f"lakeml aml {command}: --cli-input-json: {error}", file=sys.stderr)
        return 2
    except AmlError as error:
        print(f"An error occurred ({error.kind}) when calling the {name} operation: {error.message}", file=sys.stderr)
        return 2 if error.status < 500 else 1
    print(json.dumps(body, indent=4))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """`aml serve ...` or `aml <operation> ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "serve":
        return serve(argv[1:])
    return run_operation(argv[0], argv[1:])


def run(spark, context, settings):  # the job contract's entry; aml never runs inside a Spark session
    raise SystemExit(main([settings.command, *settings.rest]))
