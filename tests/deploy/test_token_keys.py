"""The token-signing keys from a Kubernetes Secret: every API pod reads one file that the
operator keeps (``gateway token-keys rotate``); the gateway follows its changes but never
writes or rotates it, and a new key signs only once every pod can have read it."""

from __future__ import annotations

import json
import os
import time

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.errors import ClientsConfigError
from gateway.identity.keys import PROPAGATION_SECONDS, SigningKeys


def _rotate(path) -> str:
    result = CliRunner().invoke(app, ["token-keys", "rotate", str(path), "--token-seconds", "300"])
    assert result.exit_code == 0, result.output
    return result.output


def _age(path, seconds: float) -> None:
    """Make every key in the file ``seconds`` older, as a Secret updated that long ago."""
    document = json.loads(path.read_text())
    for entry in document["keys"]:
        entry["created_at"] -= seconds
    replacement = path.with_suffix(".new")
    replacement.write_text(json.dumps(document))
    os.replace(replacement, path)  # as the kubelet swaps a Secret's files


def test_the_operator_makes_and_rotates_the_file_the_pods_only_read(tmp_path):
    path = tmp_path / "secret" / "token-signing.json"
    _rotate(path)
    first = json.loads(path.read_text())["keys"]
    assert len(first) == 1
    (path.parent / "token-signing.json.lock").unlink()  # the operator's copy, not the pod's
    before = path.read_bytes()

    pod = SigningKeys(path, rotate_after=1.0, token_lifetime=300, read_only=True)
    time.sleep(1.1)  # the key is due for rotation: a read-only file is never rotated
    signing = pod.current
    assert signing.kid == first[0]["jwk"]["kid"]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["token-signing.json"]

    output = _rotate(path)  # the operator adds the next key; the Secret is updated
    kids = [entry["jwk"]["kid"] for entry in json.loads(path.read_text())["keys"]]
    assert len(kids) == 2 and kids[-1] in output
    assert {k.kid for k in pod.verifying().keys} == set(kids)  # every pod accepts it at once
    assert pod.current.kid == kids[0]  # but signs with it only after PROPAGATION_SECONDS
    _age(path, PROPAGATION_SECONDS + 1)
    assert pod.current.kid == kids[1]

    _age(path, 301)  # the old key's last token has expired: the next rotation drops it
    _rotate(path)
    kept = [entry["jwk"]["kid"] for entry in json.loads(path.read_text())["keys"]]
    assert kids[0] not in kept and kids[1] in kept and len(kept) == 2


def test_a_read_only_keys_file_must_exist(tmp_path):
    with pytest.raises(ClientsConfigError, match="gateway token-keys rotate"):
        SigningKeys(
            tmp_path / "missing.json", rotate_after=3600, token_lifetime=300, read_only=True
        )
    assert list(tmp_path.iterdir()) == []
