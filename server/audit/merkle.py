"""A Merkle tree over the messages of one ingest batch (RFC 6962 leaf and node prefixes).

One batch's root goes into one audit entry, so the chain covers every archived message at the
cost of one entry per ``put_messages`` batch instead of one per message. The tree (rather than
a hash of the concatenated leaves) lets a single message's membership be proved later with
log2(n) sibling hashes, without handing out the other messages of its batch. Leaf and node
hashes carry different prefixes (``0x00``/``0x01``) so a node can never pass for a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> str:
    """Hex root over the leaf *data* (each hashed as a leaf first), for any number of leaves.

    An odd node at the end of a level is carried up unchanged; duplicating it (as Bitcoin does)
    would give ``[a, b, c]`` and ``[a, b, c, c]`` the same root.
    """
    if not leaves:
        return EMPTY_ROOT
    level = [leaf_hash(leaf) for leaf in leaves]
    while len(level) > 1:
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()
