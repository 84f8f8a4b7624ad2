//! Functions that no symbol or FDE announces: code between known functions, split at padding.
//!
//! Code generated outside the compiler has no `.eh_frame` entry, so a stripped binary loses its
//! boundaries: V8's embedded builtins in `node` (about 2,000 functions written by `mksnapshot` as
//! assembly, each padded to 64 bytes with `int3`), hand-written assembly without CFI directives,
//! JIT snapshots. This module linear-sweeps (iced-x86) each stretch of an x86-64 executable
//! section that no known function covers and cuts it where `int3` padding leads to an aligned
//! instruction: that is how such code separates functions, and it is not how compilers lay out
//! code inside one: a trap `int3` is followed by whatever instruction comes next, and when that
//! is an aligned label, a jump of the same piece leads to it (V8's `CHECK`: `ja +1; int3`).
//! Padding before a piece is left out; `nop`s straight after its code belong to it; its end is
//! rounded up to 4 bytes over the `int3`s that follow, the granule V8 pads builtins to.
//!
//! What a piece's end cannot show: a function whose last instructions are themselves `int3`
//! traps (past that granule) ends, here, before them. Its start is exact.
//!
//! Not covered: other architectures (aarch64 binaries, whose padding is `udf`/`nop`, are left as
//! the symbol tables and FDEs describe them), data placed in executable sections (decoded like
//! code, as every linear sweep does), PLT sections and Mach-O stub sections (trampolines, not functions), and BOLT's
//! `.bolt.org.text`: the code at its pre-optimisation addresses, where every function BOLT left
//! there keeps its FDE, and what no FDE covers is the remains of what BOLT moved or folded.

use std::collections::BTreeSet;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Mnemonic};
use object::{Architecture, Object, ObjectSection, SectionKind};

use crate::functions::AddressMap;

/// Alignment a piece must start at to begin a new function after `int3` padding.
const FUNCTION_ALIGN: u64 = 16;

/// The granule of a piece's size: V8 pads each builtin's instruction stream to 4 bytes (with
/// `nop`s or `int3`s) before the `int3` padding to the next 64-byte start, and its symbol sizes
/// include those bytes.
const SIZE_GRANULE: u64 = 4;

/// Most pieces taken from one binary; past this the rest are ignored (a hostile file of nothing
/// but `int3`-separated bytes would otherwise yield one function per 16 bytes).
pub const MAX_PIECES: usize = 1_000_000;

/// Mach-O's stub sections (`__stubs`, `__stub_helper`, `__auth_stubs`, `__symbol_stub1`,
/// `__picsymbolstub4`): the trampolines to imported functions, Mach-O's PLT.
fn is_stub(name: &str) -> bool {
    name.starts_with("__stub")
        || name.starts_with("__auth_stub")
        || name.starts_with("__symbol_stub")
        || name.starts_with("__picsymbolstub")
}

/// `[start, end)` of each piece of code between the `covered` ranges (sorted by start) of the
/// executable sections of `file`.
pub fn pieces(
    file: &object::File<'_>,
    data: &[u8],
    map: &AddressMap,
    covered: &[(u64, u64)],
    warnings: &mut Vec<String>,
) -> Vec<(u64, u64)> {
    if file.architecture() != Architecture::X86_64 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for section in file.sections() {
        if section.kind() != SectionKind::Text
            || section
                .name()
                .is_ok_and(|n| n.starts_with(".plt") || n.starts_with(".bolt.org.") || is_stub(n))
        {
            continue;
        }
        let lo = section.address();
        let hi = lo.saturating_add(section.size());
        for (start, end) in uncovered(lo, hi, covered) {
            let Some(bytes) = map.bytes(data, start, end) else {
                continue;
            };
            split(bytes, start, &mut out);
            if out.len() > MAX_PIECES {
                out.truncate(MAX_PIECES);
                warnings.push(format!(
                    "more than {MAX_PIECES} pieces of code outside every known function; \
                     the rest were ignored"
                ));
                return out;
            }
        }
    }
    out
}

/// The stretches of `[lo, hi)` that no range of `covered` (sorted by start) touches.
fn uncovered(lo: u64, hi: u64, covered: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut pos = lo;
    for &(start, end) in covered {
        if start >= hi {
            break;
        }
        if end <= pos {
            continue;
        }
        if start > pos {
            out.push((pos, start));
        }
        pos = pos.max(end);
    }
    if pos < hi {
        out.push((pos, hi));
    }
    out
}

/// Appends the pieces of `bytes` (at address `base`) to `out`.
fn split(bytes: &[u8], base: u64, out: &mut Vec<(u64, u64)>) {
    let mut decoder = Decoder::with_ip(64, bytes, base, DecoderOptions::NONE);
    // The open piece: its start and the end of its last instruction other than `int3`.
    let mut piece: Option<(u64, u64)> = None;
    // The end of the `int3` run right after the open piece, when there is one and nothing else
    // came after it yet.
    let mut int3_end: Option<u64> = None;
    // Where the open piece's jumps lead beyond its last instruction: a trap `int3` that a
    // conditional jump skips (V8's `CHECK`) is followed by a label, which is not a new function.
    let mut ahead: BTreeSet<u64> = BTreeSet::new();
    for insn in &mut decoder {
        let (ip, next) = (insn.ip(), insn.next_ip());
        let valid = !insn.is_invalid();
        if valid && insn.code() == Code::Int3 {
            if let Some((_, end)) = piece {
                int3_end = Some(int3_end.unwrap_or(end).max(next));
            }
            continue;
        }
        if valid && insn.mnemonic() == Mnemonic::Nop {
            match piece {
                // Alignment `nop`s straight after code belong to it.
                Some((start, end)) if end == ip && int3_end.is_none() => {
                    piece = Some((start, next));
                }
                // After a trap they align a label: the run no longer separates functions.
                _ => int3_end = None,
            }
            continue;
        }
        match piece {
            Some((start, end))
                if int3_end.is_some() && ip % FUNCTION_ALIGN == 0 && !ahead.contains(&ip) =>
            {
                out.push((start, round_end(start, end, int3_end)));
                piece = Some((ip, next));
                ahead.clear();
            }
            Some((start, _)) => piece = Some((start, next)),
            None => piece = Some((ip, next)),
        }
        int3_end = None;
        if matches!(
            insn.flow_control(),
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
        ) && insn.near_branch_target() >= next
        {
            ahead.insert(insn.near_branch_target());
        }
        // Targets left behind can no longer matter.
        while ahead.first().is_some_and(|&t| t < next) {
            ahead.pop_first();
        }
    }
    if let Some((start, end)) = piece {
        out.push((start, round_end(start, end, int3_end)));
    }
}

/// A piece's end, rounded up to [`SIZE_GRANULE`] over the `int3` bytes that follow it (up to
/// `int3_end`), never further.
fn round_end(start: u64, end: u64, int3_end: Option<u64>) -> u64 {
    let rounded = start.saturating_add((end - start).next_multiple_of(SIZE_GRANULE));
    rounded.min(int3_end.unwrap_or(end)).max(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_covered_ranges() {
        let covered = [(0x10, 0x20), (0x18, 0x30), (0x40, 0x50), (0x90, 0xa0)];
        assert_eq!(
            uncovered(0x0, 0x60, &covered),
            vec![(0x0, 0x10), (0x30, 0x40), (0x50, 0x60)]
        );
        assert_eq!(uncovered(0x30, 0x40, &covered), vec![(0x30, 0x40)]);
        assert_eq!(uncovered(0x12, 0x1f, &covered), vec![]);
    }

    #[test]
    fn int3_padding_to_an_aligned_address_separates_functions() {
        // 0x100: push rbp; ret; int3 x 14 | 0x110: xor eax,eax; ret; nop x 2; int3 x 11
        // | 0x120: ret. Ends round up to 4 bytes over the int3s; the nops belong to the code.
        let mut code = vec![0x55, 0xc3];
        code.extend([0xcc; 14]);
        code.extend([0x31, 0xc0, 0xc3, 0x90, 0x90]);
        code.extend([0xcc; 11]);
        code.push(0xc3);
        let mut out = Vec::new();
        split(&code, 0x100, &mut out);
        assert_eq!(out, vec![(0x100, 0x104), (0x110, 0x118), (0x120, 0x121)]);
    }

    #[test]
    fn a_trap_or_nop_alignment_inside_code_does_not_split_it() {
        // 0x100: ret; int3 (a trap, next instruction unaligned); xor eax,eax; nop x 10 (loop
        // alignment); 0x110: ret; then one trailing int3, which is as far as the end rounds.
        let mut code = vec![0xc3, 0xcc, 0x31, 0xc0];
        code.extend([0x90; 12]);
        code.extend([0xc3, 0xcc]);
        let mut out = Vec::new();
        split(&code, 0x100, &mut out);
        assert_eq!(out, vec![(0x100, 0x112)]);
    }

    #[test]
    fn a_trap_skipped_by_a_jump_does_not_split_the_function() {
        // 0x100: ja 0x110; int3 x 13 | 0x110: ret — the int3 run is a trap the jump skips.
        let mut code = vec![0x77, 0x0e];
        code.extend([0xcc; 14]);
        code.push(0xc3);
        let mut out = Vec::new();
        split(&code, 0x100, &mut out);
        assert_eq!(out, vec![(0x100, 0x111)]);
    }

    #[test]
    fn padding_only_yields_nothing() {
        let mut out = Vec::new();
        split(&[0xcc, 0x90, 0x66, 0x90, 0xcc], 0x100, &mut out);
        assert!(out.is_empty());
    }
}
