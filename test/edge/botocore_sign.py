#!/usr/bin/python3
"""Independent CloudFront signer for the cross-check test: botocore.signers.CloudFrontSigner + cryptography RSA SHA-1.

stdin: JSON {"pem", "keyPairId", "url", "expires"?, "policy"?: {"resource", "expires", "notBefore"?, "ip"?}}
stdout: JSON {"url", "policy"?}
Exit code 3 when botocore or cryptography is missing.
"""
import datetime
import json
import sys

try:
    from botocore.signers import CloudFrontSigner
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
except ImportError as e:  # pragma: no cover
    print(f"missing python module: {e}", file=sys.stderr)
    sys.exit(3)

req = json.load(sys.stdin)
key = serialization.load_pem_private_key(req["pem"].encode(), password=None)


def rsa_signer(message):
    return key.sign(message, padding.PKCS1v15(), hashes.SHA1())


def utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


signer = CloudFrontSigner(req["keyPairId"], rsa_signer)
out = {}
if "policy" in req:
    p = req["policy"]
    policy = signer.build_policy(
        p["resource"],
        utc(p["expires"]),
        date_greater_than=utc(p["notBefore"]) if p.get("notBefore") else None,
        ip_address=p.get("ip"),
    )
    out["policy"] = policy
    out["url"] = signer.generate_presigned_url(req["url"], policy=policy)
else:
    out["url"] = signer.generate_presigned_url(req["url"], date_less_than=utc(req["expires"]))
print(json.dumps(out))
