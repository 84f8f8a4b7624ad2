//! The Merkle tree of RFC 6962 / RFC 9162: leaf and node hashing, tree hashes of any range,
//! inclusion and consistency proofs (made from a source of complete-subtree hashes, checked
//! with only the proof).
//!
//! Not here: where the hashes are stored (see [`crate::tiles`] and [`crate::log`]).

use sha2::{Digest as _, Sha256};

use crate::{ProofError, ProofKind, Side, TlogError};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// The hash of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of a perfect tree over `hashes` (a power of two of them; one hash is its own root).
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// The largest power of two strictly below `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Hashes of complete subtrees: `hash(level, index)` is the tree hash of leaves
/// `[index·2^level, (index+1)·2^level)`.
pub trait HashSource {
    /// The hash of a complete subtree.
    ///
    /// # Errors
    /// When the storage behind it cannot produce the hash.
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError>;
}

/// The tree hash of leaves `[start, end)` (`start` aligned as RFC 6962's recursion makes it).
///
/// # Errors
/// What the source reports.
pub fn range_hash(source: &dyn HashSource, start: u64, end: u64) -> Result<Hash, TlogError> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return source.hash(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split(n);
    let left = range_hash(source, start, start + k)?;
    let right = range_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1), deepest
/// sibling first.
///
/// # Errors
/// [`TlogError::Proof`] when `index ≥ size`; what the source reports.
pub fn inclusion_proof(
    source: &dyn HashSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TlogError> {
    if index >= size {
        return Err(ProofError::OutsideTree { index, size }.into());
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    source: &dyn HashSource,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(source, m, start, start + k, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        path(source, m - k, start + k, end, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 6962 §2.1.2).
///
/// # Errors
/// [`TlogError::Proof`] unless `0 < old ≤ new`; what the source reports.
pub fn consistency_proof(
    source: &dyn HashSource,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TlogError> {
    if old == 0 || old > new {
        return Err(ProofError::NoConsistency { old, new }.into());
    }
    let mut proof = Vec::new();
    subproof(source, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    source: &dyn HashSource,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(source, m, start, start + k, whole, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`TlogError::Proof`] saying why it does not prove inclusion.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), TlogError> {
    if index >= size {
        return Err(ProofError::OutsideTree { index, size }.into());
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::TooManyHashes {
                proof: ProofKind::Inclusion,
            }
            .into());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::TooFewHashes {
            proof: ProofKind::Inclusion,
        }
        .into());
    }
    if r != *root {
        return Err(ProofError::OtherRoot.into());
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): the tree of `old` leaves with `old_root` is a
/// prefix of the tree of `new` leaves with `new_root`.
///
/// # Errors
/// [`TlogError::Proof`] saying why it does not prove consistency.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    let fail = |e: ProofError| Err(TlogError::Proof(e));
    if old > new {
        return fail(ProofError::OldLarger);
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else if old_root != new_root {
            fail(ProofError::TwoRoots)
        } else {
            fail(ProofError::NotEmpty)
        };
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            fail(ProofError::NotEmpty)
        };
    }
    if proof.is_empty() {
        return fail(ProofError::Empty);
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return fail(ProofError::TooManyHashes {
                proof: ProofKind::Consistency,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return fail(ProofError::TooFewHashes {
            proof: ProofKind::Consistency,
        });
    }
    if fr != *old_root {
        return fail(ProofError::NotConsistent { side: Side::Old });
    }
    if sr != *new_root {
        return fail(ProofError::NotConsistent { side: Side::New });
    }
    Ok(())
}

/// An in-memory tree of leaf hashes: the reference [`HashSource`] for tests and small logs.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    leaves: Vec<Hash>,
}

impl MemoryTree {
    /// A tree of these leaf hashes.
    pub fn new(leaves: Vec<Hash>) -> Self {
        MemoryTree { leaves }
    }

    /// The root of the first `size` leaves.
    ///
    /// # Errors
    /// Only if `size` exceeds the tree.
    pub fn root(&self, size: u64) -> Result<Hash, TlogError> {
        range_hash(self, 0, size)
    }
}

impl HashSource for MemoryTree {
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        let missing = || ProofError::NoSubtree {
            level,
            index,
            size: self.leaves.len() as u64,
        };
        let width = 1u64 << level;
        let start = usize::try_from(index * width).map_err(|_| missing())?;
        let end = start + usize::try_from(width).map_err(|_| missing())?;
        let leaves = self.leaves.get(start..end).ok_or_else(missing)?;
        Ok(perfect_root(leaves))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        stella_core::hex::encode(h)
    }

    fn unhex(s: &str) -> Vec<u8> {
        stella_core::hex::decode(s).expect("hex")
    }

    /// The Certificate Transparency reference leaves (RFC 6962 test data).
    fn reference() -> MemoryTree {
        let inputs = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        MemoryTree::new(inputs.iter().map(|s| leaf_hash(&unhex(s))).collect())
    }

    #[test]
    fn reference_roots() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let tree = reference();
        assert_eq!(
            hex(&tree.root(0).expect("root")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (n, want) in roots.iter().enumerate() {
            assert_eq!(
                hex(&tree.root(n as u64 + 1).expect("root")),
                *want,
                "size {}",
                n + 1
            );
        }
    }

    #[test]
    fn reference_proofs() {
        let tree = reference();
        let hexes = |v: Vec<Hash>| v.iter().map(hex).collect::<Vec<_>>();
        assert_eq!(
            hexes(inclusion_proof(&tree, 0, 8).expect("proof")),
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
            ]
        );
        assert_eq!(
            hexes(inclusion_proof(&tree, 5, 8).expect("proof")),
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
            ]
        );
        assert_eq!(
            hexes(inclusion_proof(&tree, 2, 3).expect("proof")),
            ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]
        );
        assert_eq!(
            hexes(inclusion_proof(&tree, 1, 5).expect("proof")),
            [
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
            ]
        );
        assert_eq!(
            hexes(consistency_proof(&tree, 1, 8).expect("proof")),
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
            ]
        );
        assert!(consistency_proof(&tree, 1, 1).expect("proof").is_empty());
    }

    #[test]
    fn every_proof_verifies_and_nothing_else_does() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::new(leaves.clone());
        for size in 1..=70u64 {
            let root = tree.root(size).expect("root");
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size).expect("proof");
                let leaf = &leaves[index as usize];
                assert!(verify_inclusion(leaf, index, size, &proof, &root).is_ok());
                let other = (index + 1) % size;
                if other != index {
                    assert!(verify_inclusion(leaf, other, size, &proof, &root).is_err());
                }
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = node_hash(first, first);
                    assert!(verify_inclusion(leaf, index, size, &bad, &root).is_err());
                }
            }
            for old in 1..=size {
                let proof = consistency_proof(&tree, old, size).expect("proof");
                let old_root = tree.root(old).expect("root");
                assert!(verify_consistency(old, size, &old_root, &root, &proof).is_ok());
                if old < size {
                    assert!(verify_consistency(old, size, &root, &root, &proof).is_err());
                    let other = node_hash(&root, &root);
                    assert!(verify_consistency(old, size, &old_root, &other, &proof).is_err());
                }
            }
        }
    }
}
