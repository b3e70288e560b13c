"""The data directory: its owner's alone, and the embedded default's pseudonym key.

The directory is made 0700 and every file in it 0600: the SQLite store holds
police and health records, and beside it lie the writer lock, ``runtime.json``
and the keys. A file the gateway creates is created 0600 (SQLite gives its
``-wal`` and ``-shm`` files the store's own mode); at start the whole directory
is brought back to these modes, whatever made a file meanwhile.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
#: The embedded default's pseudonymisation key, made on first run.
PSEUDONYM_KEY_FILE = "pseudonym.key"
#: The embedded default's linking key (the data custodian's, gateway.linking).
LINKING_KEY_FILE = "linking.key"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` 0700 (with its missing parents), or bring it to 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 unless it exists (then bring it to 0600)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    os.chmod(path, FILE_MODE)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # an older file keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


def make_private(path: Path) -> None:
    """Every directory under ``path`` (itself included) 0700, every file 0600.

    Symbolic links are left alone: what they point at is not the gateway's."""
    make_private_dir(path)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = Path(root) / name
            info = entry.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            wanted = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
            if stat.S_IMODE(info.st_mode) != wanted:
                os.chmod(entry, wanted)


def secret_file(path: Path, random_bytes: int) -> str:
    """The secret kept in ``path`` (0600, its folder 0700), made at random on first use.

    The exclusive create lets processes starting together agree on one secret."""
    make_private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        secret = path.read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{path} is empty: delete it to make a new secret") from None
        return secret
    secret = secrets.token_urlsafe(random_bytes)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    log.info("made a new secret in %s", path)
    return secret


def pseudonym_key(data_dir: Path) -> bytes:
    """The data directory's own pseudonymisation key, made at random on first use.

    The file holds the key as ``GATEWAY_PSEUDONYM_KEY`` would: copied there, it
    gives the same pseudonyms. Two data directories never share a key."""
    return secret_file(data_dir / PSEUDONYM_KEY_FILE, random_bytes=32).encode()


def linking_key(data_dir: Path) -> bytes:
    """The data directory's own linking key (``GATEWAY_LINKING_KEY`` form), made at
    random on first use; never the pseudonym key, so recipients' pseudonyms and the
    custodian's person ids cannot be joined."""
    return secret_file(data_dir / LINKING_KEY_FILE, random_bytes=32).encode()
