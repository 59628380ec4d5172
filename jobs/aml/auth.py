"""SigV4 verification of requests: botocore's own signer computes the signature the caller must have sent.

Credentials come from LAKEML_AML_ACCESS_KEY_ID and LAKEML_AML_SECRET_ACCESS_KEY (never logged, never stored
on the lake). A request whose signature, key, date (within 15 minutes) or scope does not check out is answered
403 before anything runs.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import re
from typing import Dict, Mapping, Optional

from jobs.aml.protocol import AmlError

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
MAX_SKEW = dt.timedelta(minutes=15)


def configured_credentials() -> Optional[Dict[str, str]]:
    """{access key id: secret} from the environment, or None when not configured."""
    key, secret = os.environ.get("LAKEML_AML_ACCESS_KEY_ID"), os.environ.get("LAKEML_AML_SECRET_ACCESS_KEY")
    return {key: secret} if key and secret else None


def denied(message: str) -> AmlError:
    return AmlError("InvalidSignatureException", message, 403)


def expected_signature(headers: Mapping[str, str], body: bytes, parts: Dict[str, str], secret: str) -> str:
    """The signature botocore's SigV4Auth computes for these signed headers and body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lowered = {k.lower(): v for k, v in headers.items()}
    signed = {name: lowered.get(name, "") for name in parts["signed"].split(";")}
    request = AWSRequest(method="POST", url=f"http://{lowered.get('host', '')}/", data=body, headers=signed)
    request.context["timestamp"] = lowered.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(parts["key"], secret), parts["service"], parts["region"])
    return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)


def verify(headers: Mapping[str, str], body: bytes, credentials: Dict[str, str]) -> None:
    """Raise a 403 AmlError unless the request carries a valid SigV4 signature by a configured key."""
    match = _AUTH.fullmatch((headers.get("Authorization") or "").strip())
    if not match:
        raise denied("missing or malformed SigV4 Authorization header")
    parts = match.groupdict()
    secret = credentials.get(parts["key"])
    if secret is None:
        raise denied("the access key id is not configured on this server")
    try:
        when = dt.datetime.strptime(headers.get("X-Amz-Date") or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise denied("missing or malformed X-Amz-Date") from None
    if abs(dt.datetime.now(dt.timezone.utc) - when) > MAX_SKEW or when.strftime("%Y%m%d") != parts["date"]:
        raise denied("the request's date is not within 15 minutes of the server's time")
    if not hmac.compare_digest(expected_signature(headers, body, parts, secret), parts["signature"]):
        raise denied("the request signature does not match")
