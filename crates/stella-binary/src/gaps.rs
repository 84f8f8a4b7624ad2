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
//! On aarch64 (yaxpeax-arm) the padding is `nop` (what assemblers fill code alignment with) and
//! `udf #0` (zero words, what linkers fill between input sections with). A piece ends at its last
//! instruction that is not padding, and the next one starts at an instruction when the open
//! piece's flow has ended (`ret`, `b`, `br`, `brk`, `udf` and their authenticated forms) and no
//! branch of the piece leads to that instruction or past it, and either padding leads to it on a
//! 16-byte boundary or it is a function entry marker (`bti c`, `bti jc`, `paciasp`, `pacibsp`).
//! Loop-alignment `nop`s follow code that falls through, or are jumped past: they never split.
//!
//! Not covered: other architectures, data placed in executable sections (decoded like
//! code, as every linear sweep does), PLT sections and Mach-O stub sections (trampolines, not functions), and BOLT's
//! `.bolt.org.text`: the code at its pre-optimisation addresses, where every function BOLT left
//! there keeps its FDE, and what no FDE covers is the remains of what BOLT moved or folded.

use std::collections::BTreeSet;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Mnemonic};
use object::{Architecture, Object, ObjectSection, SectionKind};
use yaxpeax_arm::armv8::a64::{Instruction, Opcode, Operand};

use crate::callgraph::aarch64::{self, is_bti, is_nop};
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
    let arch = file.architecture();
    if !matches!(arch, Architecture::X86_64 | Architecture::Aarch64) {
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
            if arch == Architecture::Aarch64 {
                // A name without a size (an empty covered range) announces a function here,
                // even when it opens with a `nop` (crti's `_init` and `_fini` do).
                let named = covered.binary_search(&(start, start)).is_ok();
                split_aarch64(bytes, start, named, &mut out);
            } else {
                split(bytes, start, &mut out);
            }
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

/// Appends the pieces of the aarch64 code `bytes` (at address `base`) to `out`; the 1–3 bytes
/// past the last whole word are left out. When `named`, a function is known to start at `base`
/// and padding there belongs to it.
fn split_aarch64(bytes: &[u8], base: u64, named: bool, out: &mut Vec<(u64, u64)>) {
    // The open piece: its start and the end of its last instruction that is not padding.
    let mut piece: Option<(u64, u64)> = None;
    // Whether padding came after the open piece's last instruction, and whether that
    // instruction ended the flow.
    let (mut padded, mut ended) = (false, false);
    // The furthest address a branch of the open piece leads to ahead of it.
    let mut ahead = 0u64;
    for (pc, insn) in aarch64::instructions(bytes, base) {
        let next = pc.saturating_add(4);
        if named && piece.is_none() {
            piece = Some((pc, next));
        }
        if insn.as_ref().is_some_and(is_padding) {
            padded |= piece.is_some();
            continue;
        }
        let entry_marker = insn.as_ref().is_some_and(is_entry_marker);
        match piece {
            Some((start, end))
                if ended
                    && ahead < next
                    && ((padded && pc % FUNCTION_ALIGN == 0) || entry_marker) =>
            {
                out.push((start, end));
                piece = Some((pc, next));
                ahead = 0;
            }
            Some((start, _)) => piece = Some((start, next)),
            None => piece = Some((pc, next)),
        }
        padded = false;
        ended = insn.as_ref().is_some_and(ends_flow);
        if let Some(target) = insn.as_ref().and_then(|i| forward_target(i, pc)) {
            ahead = ahead.max(target);
        }
    }
    if let Some(piece) = piece {
        out.push(piece);
    }
}

/// `nop` and `udf #0` (a zero word).
fn is_padding(insn: &Instruction) -> bool {
    is_nop(insn) || (insn.opcode == Opcode::UDF && matches!(insn.operands[0], Operand::Imm16(0)))
}

/// `bti c`/`bti jc` (`hint #34`/`#38`), `paciasp`, `pacibsp`: what a function's entry opens with.
fn is_entry_marker(insn: &Instruction) -> bool {
    (is_bti(insn) && matches!(insn.operands[1], Operand::Immediate(2 | 6)))
        || matches!(insn.opcode, Opcode::PACIASP | Opcode::PACIBSP)
}

/// Instructions after which execution never falls through to the next word.
fn ends_flow(insn: &Instruction) -> bool {
    matches!(
        insn.opcode,
        Opcode::RET
            | Opcode::RETAA
            | Opcode::RETAB
            | Opcode::B
            | Opcode::BR
            | Opcode::BRAA
            | Opcode::BRAAZ
            | Opcode::BRAB
            | Opcode::BRABZ
            | Opcode::BRK
            | Opcode::HLT
            | Opcode::UDF
    )
}

/// The target of a PC-relative branch at `pc` when it leads forward.
fn forward_target(insn: &Instruction, pc: u64) -> Option<u64> {
    if !matches!(
        insn.opcode,
        Opcode::B | Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ
    ) {
        return None;
    }
    insn.operands.iter().find_map(|o| match *o {
        Operand::PCOffset(offset) if offset > 0 => pc.checked_add(offset.unsigned_abs()),
        _ => None,
    })
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

    fn words(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn aarch64_padding_after_a_return_separates_functions() {
        let code = words(&[
            0xd503_201f, // 0x100: nop (padding before the first piece: left out)
            0x5400_0080, // 0x104: b.eq 0x114 (past the loop-alignment nops)
            0xd65f_03c0, // 0x108: ret
            0xd503_201f, // 0x10c: nop
            0xd503_201f, // 0x110: nop, then 0x114 aligned to 4 only
            0xd65f_03c0, // 0x114: ret
            0x0000_0000, // 0x118: udf #0
            0x0000_0000, // 0x11c: udf #0
            0xaa00_03e1, // 0x120: mov x1, x0 (aligned after padding: a new piece)
            0xd503_201f, // 0x124: nop (falls through: loop alignment, no split)
            0xd503_201f, // 0x128: nop
            0xd503_201f, // 0x12c: nop
            0x17ff_fffd, // 0x130: b 0x124 (ends the flow, but no padding follows)
            0xd503_233f, // 0x134: paciasp (an entry marker: a new piece)
            0xd65f_03c0, // 0x138: ret
            0xd503_201f, // 0x13c: nop (trailing padding: left out)
        ]);
        let mut out = Vec::new();
        split_aarch64(&code, 0x100, false, &mut out);
        assert_eq!(out, vec![(0x104, 0x118), (0x120, 0x134), (0x134, 0x13c)]);
        // A truncated last word is left out; padding only yields nothing.
        let mut out = Vec::new();
        split_aarch64(
            &[0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03],
            0x100,
            false,
            &mut out,
        );
        assert!(out.is_empty());
        // Unless a name without a size says a function starts there (crti's `_init`: `nop`
        // first).
        let mut out = Vec::new();
        split_aarch64(&words(&[0xd503_201f, 0xd65f_03c0]), 0x100, true, &mut out);
        assert_eq!(out, vec![(0x100, 0x108)]);
    }

    #[test]
    fn padding_only_yields_nothing() {
        let mut out = Vec::new();
        split(&[0xcc, 0x90, 0x66, 0x90, 0xcc], 0x100, &mut out);
        assert!(out.is_empty());
    }
}
