"""The audit trail's signing keys: Ed25519, from configuration, rotatable.

``GATEWAY_AUDIT_SIGNING_KEYS`` holds one or more private keys (PEM blocks,
or raw 32-byte keys in base64 or hex, separated by commas or new lines). The
first signs new checkpoints; the others are earlier keys still held, whose
checkpoints and entry seals keep verifying. ``GATEWAY_AUDIT_RETIRED_KEYS``
lists public keys of keys no longer held at all (their old checkpoints still
verify; nothing new can be signed with them). Unset, the key is made on first
use in ``data_dir/keys/audit-signing.key`` (0600), as the embedded default
makes its pseudonym key; ``gateway audit rotate-key`` rotates that file.

A key is named by its *key id*: the first 16 hex digits of SHA-256 over its
raw 32-byte public key. Every checkpoint names the key that signed it.

Each entry the gateway appends also carries a *seal*: HMAC-SHA-256 over its
sequence number and hash, under a key derived from the signing key. Someone
who can write the database but does not hold the key cannot seal an entry
they forge, so a forged append is refused when the next checkpoint is taken
and named by ``gateway audit verify`` (``gateway.audit.checkpoints``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: Where the embedded default (and any gateway not given keys) keeps its key.
KEY_FILE = Path("keys") / "audit-signing.key"
#: Public keys of keys rotated out of the key file (JSON list of raw base64).
RETIRED_FILE = Path("keys") / "audit-retired-keys.json"
_SEAL_LABEL = b"isg-gateway audit entry seal v1"
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.S)


class AuditKeyError(ValueError):
    """A configured key that cannot be read (the message says which and why)."""


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(public: Ed25519PublicKey) -> str:
    """A public key as published: its raw 32 bytes in base64."""
    return base64.b64encode(raw_public(public)).decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    key_id: str
    seal_key: bytes = field(repr=False)

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> SigningKey:
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        seal_key = hmac.new(raw, _SEAL_LABEL, hashlib.sha256).digest()
        return cls(private, key_id(private.public_key()), seal_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def seal(self, seq: int, entry_hash: str) -> str:
        """The entry's seal as stored: ``key_id:hex(HMAC(seal_key, "seq:hash"))``."""
        mac = hmac.new(self.seal_key, f"{seq}:{entry_hash}".encode("ascii"), hashlib.sha256)
        return f"{self.key_id}:{mac.hexdigest()}"


@dataclass(frozen=True)
class AuditKeys:
    """The keys held (the first signs) and every public key trusted to have signed."""

    held: tuple[SigningKey, ...]
    trusted: dict[str, Ed25519PublicKey]
    #: key ids of keys no longer held (listed as retired)
    retired: frozenset[str] = frozenset()

    @property
    def current(self) -> SigningKey | None:
        return self.held[0] if self.held else None

    def verify(self, kid: str, message: bytes, signature: str) -> bool:
        public = self.trusted.get(kid)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def seal_ok(self, seq: int, entry_hash: str, seal: str | None) -> bool:
        """Whether ``seal`` is one of the held keys' seal of this entry."""
        if not seal or ":" not in seal:
            return False
        kid = seal.split(":", 1)[0]
        for key in self.held:
            if key.key_id == kid:
                return hmac.compare_digest(key.seal(seq, entry_hash), seal)
        return False

    def published(self) -> list[dict[str, str]]:
        """Every trusted public key, current first: what GET /v1/audit/keys and the
        export publish."""
        current = self.current.key_id if self.current else None
        return [
            {
                "key_id": kid,
                "algorithm": "Ed25519",
                "public_key": public_text(public),
                "status": "current"
                if kid == current
                else ("retired" if kid in self.retired else "held"),
            }
            for kid, public in sorted(self.trusted.items(), key=lambda kv: kv[0] != current)
        ]


def parse_private_keys(text: str) -> list[Ed25519PrivateKey]:
    """PEM blocks, or raw 32-byte keys in base64 or hex, comma or line separated."""
    keys: list[Ed25519PrivateKey] = []
    for block in _PEM.findall(text):
        try:
            loaded = serialization.load_pem_private_key(block.encode(), password=None)
        except ValueError as exc:
            raise AuditKeyError(f"an audit signing key's PEM cannot be read: {exc}") from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise AuditKeyError("an audit signing key must be an Ed25519 key")
        keys.append(loaded)
    rest = _PEM.sub(" ", text)
    for token in re.split(r"[\s,]+", rest.strip()):
        if token:
            keys.append(Ed25519PrivateKey.from_private_bytes(_raw32(token, "signing key")))
    return keys


def parse_public_key(token: str) -> Ed25519PublicKey:
    token = token.strip()
    if token.startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(token.encode())
        if not isinstance(loaded, Ed25519PublicKey):
            raise AuditKeyError("a retired audit key must be an Ed25519 public key")
        return loaded
    return Ed25519PublicKey.from_public_bytes(_raw32(token, "retired key"))


def _raw32(token: str, what: str) -> bytes:
    raw: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", token):
        raw = bytes.fromhex(token)
    else:
        try:
            padded = token + "=" * (-len(token) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise AuditKeyError(f"an audit {what} must be a PEM block or 32 bytes in base64 or hex")
    return raw


def load_keys(
    signing_keys: str | None,
    retired_keys: list[str],
    data_dir: Path,
    *,
    create: bool = True,
) -> AuditKeys:
    """The audit keys from the settings' values, else from ``data_dir``'s key file
    (made on first use when ``create``)."""
    if signing_keys and signing_keys.strip():
        privates = parse_private_keys(signing_keys)
    else:
        privates = _key_file(data_dir, create)
    held = tuple(SigningKey.of(p) for p in privates)
    trusted: dict[str, Ed25519PublicKey] = {k.key_id: k.private.public_key() for k in held}
    retired: set[str] = set()
    for token in [*retired_keys, *_retired_file(data_dir)]:
        public = parse_public_key(token)
        kid = key_id(public)
        if kid not in trusted:
            trusted[kid] = public
            retired.add(kid)
    return AuditKeys(held, trusted, frozenset(retired))


def _key_file(data_dir: Path, create: bool) -> list[Ed25519PrivateKey]:
    from gateway.embedded.data_dir import FILE_MODE, make_private_dir

    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return []
        make_private_dir(path.parent)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:  # another process made it first: use theirs
            return _key_file(data_dir, create=False)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(_raw_private_text(Ed25519PrivateKey.generate()) + "\n")
    return parse_private_keys(path.read_text(encoding="utf-8"))


def _retired_file(data_dir: Path) -> list[str]:
    path = data_dir / RETIRED_FILE
    if not path.exists():
        return []
    listed = json.loads(path.read_text(encoding="utf-8"))
    return [str(k) for k in listed]


def _raw_private_text(private: Ed25519PrivateKey) -> str:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


def rotate_key_file(data_dir: Path) -> tuple[str, str]:
    """A new key in ``data_dir``'s key file; the old one is kept as the second key
    (its seals still check) until the next rotation retires it to the public list.
    Returns (new key id, old key id)."""
    from gateway.embedded.data_dir import write_private_text

    old = _key_file(data_dir, create=True)
    new = Ed25519PrivateKey.generate()
    for dropped in old[1:]:  # held since the rotation before: now only its public key
        listed = _retired_file(data_dir)
        listed.append(public_text(dropped.public_key()))
        write_private_text(data_dir / RETIRED_FILE, json.dumps(sorted(set(listed))) + "\n")
    write_private_text(
        data_dir / KEY_FILE,
        "\n".join(_raw_private_text(k) for k in [new, old[0]]) + "\n",
    )
    return key_id(new.public_key()), key_id(old[0].public_key())
