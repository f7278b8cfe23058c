#!/usr/bin/env python3
"""An independent implementation of Muse commit signatures (docs/formats.md §4, §4.1), written
from the document with Python's `cryptography` package, for tests/independent.rs.

  independent.py sign SEED_HEX FIELDS_JSON   -> prints the stored signed commit, hex
  independent.py verify STORED_HEX            -> prints the signer key id; exit 1 if not valid
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def field(key, value):
    data = value.encode("utf-8")
    return key.encode() + b" " + str(len(data)).encode() + b"\n" + data + b"\n"


def encode_unsigned(f):
    out = b"muse-commit/1\n" + field("snapshot", f["snapshot_id"])
    for p in f["parents"]:
        out += field("parent", p)
    for key in ["author", "committed_at", "agent_id", "model_id", "toolchain_id", "prompt_hash", "sem_ver_bump"]:
        out += field(key.replace("_", "-"), f[key])
    for change in f["breaking_changes"]:
        out += field("breaking-change", change)
    for k in sorted(f["metadata"], key=lambda k: k.encode()):
        data = k.encode() + b"\0" + f["metadata"][k].encode()
        out += b"metadata " + str(len(data)).encode() + b"\n" + data + b"\n"
    if f["structured_delta"] is not None:
        out += field("structured-delta", f["structured_delta"])
    out += field("signer-key-id", f["signer_key_id"])
    out += field("message", f["message"])
    return out


def key_id(raw_public):
    blob = len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big") + raw_public
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def sign(seed_hex, fields_json):
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fields = json.loads(fields_json)
    fields["signer_key_id"] = key_id(raw_public)
    unsigned = encode_unsigned(fields)
    value = "ed25519 " + base64.b64encode(raw_public).decode() + " " + base64.b64encode(private.sign(unsigned)).decode()
    print((unsigned + field("signature", value)).hex())


def read_field(data, pos):
    space = data.index(b" ", pos)
    newline = data.index(b"\n", space)
    length = int(data[space + 1:newline])
    start = newline + 1
    return data[pos:space].decode(), data[start:start + length], start + length + 1


def verify(stored_hex):
    data = bytes.fromhex(stored_hex)
    pos, fields = len(b"muse-commit/1\n"), {}
    while pos < len(data):
        start = pos
        key, value, pos = read_field(data, pos)
        fields[key] = (value, start)
    value, start = fields["signature"]
    unsigned = data[:start]
    scheme, public_b64, signature_b64 = value.decode().split(" ")
    assert scheme == "ed25519"
    raw_public = base64.b64decode(public_b64, validate=True)
    if key_id(raw_public) != fields["signer-key-id"][0].decode():
        sys.exit("the signature's key is not the signer key")
    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(base64.b64decode(signature_b64, validate=True), unsigned)
    except InvalidSignature:
        sys.exit("the signature does not verify")
    print(key_id(raw_public))


if __name__ == "__main__":
    if sys.argv[1] == "sign":
        sign(sys.argv[2], sys.argv[3])
    else:
        verify(sys.argv[2])
