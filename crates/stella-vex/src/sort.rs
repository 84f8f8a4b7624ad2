//! Sorting many byte strings on every CPU, for the merge and the writers: the statements'
//! canonical bytes, the distinct vulnerability names and product keys.
//!
//! Such strings share long prefixes (`{"@id":"https://vendor.example/statements/…`,
//! `pkg:deb/debian/…`), so comparing two of them reads past that prefix, in memory far from
//! the list being sorted, at every comparison. Here the prefix every item shares is measured
//! once, the eight bytes after it become an integer key beside each item, and most comparisons
//! are decided by the keys alone; only equal keys compare the bytes. The order is exactly the
//! order of the bytes. Not here: what the strings are, or what equal ones mean.

use rayon::prelude::*;

/// `items` in the order of `bytes(item)` (lexicographic, as `[u8]::cmp`); items with equal bytes
/// in no particular order.
pub(crate) fn by_bytes<'b, T, F>(items: Vec<T>, bytes: F) -> Vec<T>
where
    T: Send + Sync,
    F: Fn(&T) -> &'b [u8] + Sync,
{
    let Some(first) = items.first() else {
        return items;
    };
    let first = bytes(first);
    let shared = (items.par_iter())
        .map(|item| common_prefix(first, bytes(item)))
        .min()
        .unwrap_or(0);
    let mut keyed: Vec<(u64, T)> = (items.into_par_iter())
        .map(|item| (key_after(bytes(&item), shared), item))
        .collect();
    keyed.par_sort_unstable_by(|(a_key, a), (b_key, b)| {
        a_key
            .cmp(b_key)
            .then_with(|| bytes(a)[shared..].cmp(&bytes(b)[shared..]))
    });
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// The ranks of `items` in the order of `bytes(item)`, by index: `ranks[i]` is the place of
/// `items[i]` (items with equal bytes get distinct ranks, in no particular order).
pub(crate) fn ranks<'b, T, F>(items: &'b [T], bytes: F) -> Vec<u32>
where
    T: Sync,
    F: Fn(&'b T) -> &'b [u8] + Sync,
{
    let order = by_bytes((0..items.len()).collect::<Vec<usize>>(), |&at| {
        bytes(&items[at])
    });
    let mut ranks = vec![0; items.len()];
    for (rank, at) in order.into_iter().enumerate() {
        ranks[at] = u32::try_from(rank).unwrap_or(u32::MAX);
    }
    ranks
}

/// How many bytes `a` and `b` share from their start.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let words = a.chunks_exact(8).zip(b.chunks_exact(8));
    let mut at = 0;
    for (x, y) in words {
        if x != y {
            break;
        }
        at += 8;
    }
    at + (a[at..].iter())
        .zip(&b[at..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// The eight bytes of `bytes` from `at`, big-endian, zeros past its end: for two strings that
/// agree before `at`, a smaller key means smaller bytes, and equal keys decide nothing.
fn key_after(bytes: &[u8], at: usize) -> u64 {
    let mut key = [0u8; 8];
    let tail = bytes.get(at..).unwrap_or_default();
    let n = tail.len().min(8);
    key[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The items sorted through [`by_bytes`], which sorts references into them.
    fn sorted(items: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let refs: Vec<&Vec<u8>> = items.iter().collect();
        by_bytes(refs, |v| v.as_slice())
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn prefixes_zeros_and_empty_strings_sort_as_bytes_do() {
        let items: Vec<Vec<u8>> = vec![
            b"abc".to_vec(),
            b"ab".to_vec(),
            b"ab\0".to_vec(),
            b"ab\0\0\0\0\0\0\0\0\x01".to_vec(),
            b"ab\0\0\0\0\0\0\0\0".to_vec(),
            Vec::new(),
            b"abcdefghijklmnopq".to_vec(),
            b"abcdefghijklmnopp".to_vec(),
        ];
        let mut expected = items.clone();
        expected.sort();
        assert_eq!(sorted(&items), expected);
        assert_eq!(sorted(&[]), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn ranks_give_each_item_its_place() {
        let items = ["pkg:npm/b", "pkg:npm/a", "pkg:npm/c", "pkg:npm/ab"];
        assert_eq!(ranks(&items, |s: &&str| s.as_bytes()), vec![2, 0, 3, 1]);
    }

    proptest! {
        #[test]
        fn the_order_is_the_order_of_the_bytes(
            prefix in proptest::collection::vec(any::<u8>(), 0..40),
            tails in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..20), 0..200),
        ) {
            let items: Vec<Vec<u8>> = tails
                .into_iter()
                .map(|t| prefix.iter().copied().chain(t).collect())
                .collect();
            let mut expected = items.clone();
            expected.sort();
            prop_assert_eq!(sorted(&items), expected);
        }
    }
}
