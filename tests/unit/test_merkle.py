"""RFC 6962 Merkle trees: the published test vectors, then every proof of every small tree."""

from __future__ import annotations

import random

import pytest

from tre import merkle

# The inputs and tree heads of RFC 6962's reference tests (as Trillian and
# transparency-dev/merkle publish them): leaf d_i, and the root of the first n leaves.
DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f"]
LEAVES = [merkle.leaf_hash(bytes.fromhex(d)) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def test_tree_heads_match_rfc_6962() -> None:
    for n in range(9):
        assert merkle.root(LEAVES[:n]).hex() == ROOTS[n], n


def test_compact_range_gives_every_prefix_root() -> None:
    compact = merkle.CompactRange()
    for n, leaf in enumerate(LEAVES, start=1):
        compact.append(leaf)
        assert compact.root().hex() == ROOTS[n]
        assert len(compact.hashes) == bin(n).count("1")
    again = merkle.CompactRange(compact.size, compact.hashes)
    assert again.root() == compact.root()
    with pytest.raises(ValueError, match="has 1 hashes, not 2"):
        merkle.CompactRange(8, compact.hashes * 2)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(index, LEAVES[:size])
    assert [p.hex() for p in proof] == path
    top = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(index, size, LEAVES[index], proof, top)
    assert not merkle.verify_inclusion(index, size, LEAVES[index], proof, bytes.fromhex(ROOTS[1]))
    assert not merkle.verify_inclusion(size, size, LEAVES[index], proof, top)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(first, LEAVES[:second])
    assert [p.hex() for p in proof] == path
    r1, r2 = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    if first != second:
        assert not merkle.verify_consistency(first, second, r2, r2, proof)


def test_every_proof_of_every_small_tree() -> None:
    """Brute force: trees of 1..40 leaves, every leaf's path, every pair of sizes; and any
    single changed byte of a proof, a root or a leaf makes it fail."""
    rng = random.Random(6962)
    leaves = [merkle.leaf_hash(rng.randbytes(rng.randint(0, 12))) for _ in range(40)]
    roots = [merkle.root(leaves[:n]) for n in range(41)]

    def flip(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        return b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]

    for n in range(1, 41):
        for i in range(n):
            proof = merkle.inclusion_proof(i, leaves[:n])
            assert merkle.verify_inclusion(i, n, leaves[i], proof, roots[n])
            assert not merkle.verify_inclusion(i, n, flip(leaves[i]), proof, roots[n])
            assert not merkle.verify_inclusion(i, n, leaves[i], proof, flip(roots[n]))
            if proof:
                j = rng.randrange(len(proof))
                bad = [*proof[:j], flip(proof[j]), *proof[j + 1:]]
                assert not merkle.verify_inclusion(i, n, leaves[i], bad, roots[n])
                assert not merkle.verify_inclusion(i, n, leaves[i], proof[:-1], roots[n])
            if n > 1:
                other = (i + 1) % n
                assert not merkle.verify_inclusion(other, n, leaves[i], proof, roots[n])
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(m, leaves[:n])
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, flip(roots[m]), roots[n], proof)
                assert not merkle.verify_consistency(m, n, roots[m], flip(roots[n]), proof)
                j = rng.randrange(len(proof))
                bad = [*proof[:j], flip(proof[j]), *proof[j + 1:]]
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], bad)
                # a fork: the same first m leaves, a different (m+1)-th
                forked = [*leaves[:m], flip(leaves[m]), *leaves[m + 1:n]]
                fork_root = merkle.root(forked)
                assert not merkle.verify_consistency(m, n, roots[m], fork_root, proof)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="leaf 3 is not in a tree of 3 leaves"):
        merkle.inclusion_proof(3, LEAVES[:3])
    with pytest.raises(ValueError, match="cannot be a prefix"):
        merkle.consistency_proof(4, LEAVES[:3])
    assert not merkle.verify_consistency(4, 3, LEAVES[0], LEAVES[0], [])
    assert merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, bytes.fromhex(ROOTS[3]), [])
