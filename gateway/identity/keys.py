"""The keys that sign the gateway's access tokens, rotated, their public half published.

Kept in a JSON file of our own (``{"keys": [{"created_at": ..., "jwk": {...}}]}``,
mode 0600): the newest key signs; every key still in the file verifies, so a
token signed just before a rotation stays valid until it expires. A key is
retired once a newer one has signed for longer than any token lives. Every
process of a gateway (``serve --workers``, ``gateway token``) shares the file:
a rotation takes a lock on it, and the others read it again when it changes.

Read-only, the file is kept by someone else (a Kubernetes Secret mounted in every pod of a
gateway): the gateway reads it and follows its changes, but never writes or rotates it;
the operator adds the next key and retires the old one (docs/operations.md).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet

from gateway.embedded.data_dir import FILE_MODE, make_private_dir, write_private_text
from gateway.errors import ClientsConfigError

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
#: In a read-only file a new key signs only once it is this old: every pod has read the
#: changed file by then (the kubelet refreshes a mounted Secret within about a minute), so
#: none refuses a token signed with a key it has not seen yet.
PROPAGATION_SECONDS = 300.0


@dataclass(frozen=True)
class _Held:
    created_at: float
    key: ECKey


class SigningKeys:
    """The token-signing keys in ``path``, created on first use, rotated every
    ``rotate_after`` seconds; a retired key is kept ``token_lifetime`` more."""

    def __init__(
        self, path: Path, rotate_after: float, token_lifetime: float, read_only: bool = False
    ) -> None:
        self.path = path
        self.rotate_after = rotate_after
        self.token_lifetime = token_lifetime
        self.read_only = read_only
        self._held: list[_Held] = []
        self._read_at: float | None = None
        self._warned_due = False
        if read_only:
            if not path.is_file():
                raise ClientsConfigError(
                    f"the token-signing keys file {path} does not exist (it is read-only: "
                    "make it with `gateway token-keys rotate FILE`, see docs/operations.md)"
                )
            self._refresh()
            if not self._held:
                raise ClientsConfigError(f"the token-signing keys file {path} holds no key")
        else:
            self.rotate_if_due()

    def _refresh(self) -> None:
        """Read the file again if another process changed it."""
        try:
            changed = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if changed == self._read_at:
            return
        document = json.loads(self.path.read_text(encoding="utf-8"))
        self._held = [
            _Held(entry["created_at"], ECKey.import_key(entry["jwk"])) for entry in document["keys"]
        ]
        self._read_at = changed

    def _write(self) -> None:
        document = {
            "keys": [
                {"created_at": held.created_at, "jwk": held.key.as_dict(private=True)}
                for held in self._held
            ]
        }
        temporary = self.path.with_suffix(".tmp")
        write_private_text(temporary, json.dumps(document))
        os.replace(temporary, self.path)  # readers never see half a file
        self._read_at = self.path.stat().st_mtime_ns

    def rotate_if_due(self, now: float | None = None) -> bool:
        """Add a new signing key when the newest is due; drop retired ones. True if
        the file changed. Never for a read-only file: a key past due is only logged."""
        now = time.time() if now is None else now
        if self.read_only:
            self._refresh()
            if now - self._held[-1].created_at >= self.rotate_after and not self._warned_due:
                self._warned_due = True
                log.warning("the token-signing key in %s is due for rotation", self.path)
            return False
        make_private_dir(self.path.parent)
        lock = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._read_at = None
            self._refresh()
            return self._rotate_held(now)
        finally:
            os.close(lock)  # closing it releases the lock

    def _rotate_held(self, now: float) -> bool:
        changed = False
        if not self._held or now - self._held[-1].created_at >= self.rotate_after:
            key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex, "use": "sig"})
            self._held.append(_Held(now, key))
            changed = True
        # A key stays while the one after it has signed for less than a token lives.
        kept = [
            held
            for held, successor in zip(self._held, self._held[1:], strict=False)
            if now - successor.created_at < self.token_lifetime
        ] + [self._held[-1]]
        if len(kept) != len(self._held):
            self._held = kept
            changed = True
        if changed:
            self._write()
        return changed

    @property
    def current(self) -> ECKey:
        """The key that signs now: a rotation that fell due is made first, so a gateway
        that runs for months still rotates (not only when it starts). From a read-only
        file, the newest key that every pod has had time to read."""
        self._refresh()
        if self.read_only:
            self.rotate_if_due()  # only warns
            settled = time.time() - PROPAGATION_SECONDS
            ready = [held for held in self._held if held.created_at <= settled]
            return (ready[-1] if ready else self._held[0]).key
        if time.time() - self._held[-1].created_at >= self.rotate_after:
            self.rotate_if_due()
        return self._held[-1].key

    def rotate_now(self) -> list[str]:
        """For the operator of a read-only file (run on a writable copy): add a new key
        and drop the keys no token can still need; the key ids kept, oldest first.

        In the pods the new key signs once PROPAGATION_SECONDS have passed; a key is
        dropped once its successor has signed for longer than a token lives."""
        now = time.time()
        new = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex, "use": "sig"})
        held = [*self._held, _Held(now, new)]
        needed_for = PROPAGATION_SECONDS + self.token_lifetime
        self._held = [
            key
            for key, successor in itertools.pairwise(held)
            if now - successor.created_at < needed_for
        ] + [held[-1]]
        self._write()
        return [str(key.key.kid) for key in self._held]

    def verifying(self) -> KeySet:
        self._refresh()
        return KeySet([held.key for held in self._held])

    def public_jwks(self) -> dict[str, Any]:
        """What ``/.well-known/jwks.json`` publishes."""
        self._refresh()
        keys = []
        for held in self._held:
            public = held.key.as_dict(private=False)
            public["alg"] = ALGORITHM
            keys.append(public)
        return {"keys": keys}
