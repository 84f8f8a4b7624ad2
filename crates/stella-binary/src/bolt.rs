//! The code BOLT leaves behind: which ranges of `.bolt.org.text` no live code refers to.
//!
//! BOLT (LLVM's post-link optimiser) writes the functions it optimises to new sections (`.text`,
//! `.text.warm`, `.text.cold`) and keeps the original code section, renamed `.bolt.org.text`,
//! at its old addresses: the functions it did not move still run from there, and the bytes of
//! those it moved or folded stay behind, never run again, each still described by an `.eh_frame`
//! FDE. The symbol table names the functions that live; a stripped copy keeps only the FDEs, so
//! the remains look like any unnamed function.
//!
//! A range is classified as BOLT's remains ([`ROLE`]) when all of this holds, each part
//! checkable by a reader with any disassembler:
//! - the file is an x86-64 ELF with an executable `.bolt.org.*` section, and the range lies in
//!   such a section;
//! - no symbol and no DWARF entry names it (only an FDE describes it);
//! - nothing live refers to its start. Live is: every byte of executable code that is not such
//!   a candidate range, and each candidate once something live refers to it (so the remains
//!   calling each other do not count). A reference from code is an instruction, decoded from
//!   the start of the range (or stretch of code between ranges) that holds it, whose near
//!   branch target (`call`, `jmp`, `jcc`, `loop`, rel8 or rel32) or RIP-relative operand is the
//!   start; in a position-dependent executable (`ET_EXEC`), also an immediate or an absolute
//!   displacement equal to it. Outside code: a dynamic relocation whose target (symbol value or
//!   absolute) plus addend is the start, the entry point, and in an `ET_EXEC` file an
//!   8-byte-aligned word of allocated data equal to it (in a shared object or PIE an address
//!   stored without a relocation is no address once loaded).
//!
//! Finding the references does not decode all the code: every byte offset of live code is
//! first matched against the candidates' starts as if an instruction began there (the opcode
//! bytes of those branches, any ModRM byte of a RIP-relative operand with an immediate of 0,
//! 1, 2 or 4 bytes after its displacement, and in `ET_EXEC` files every 4- and 8-byte value),
//! which finds every reference decoding can find and more; only the ranges holding a match are
//! decoded, and only a decoded instruction counts. A range classified here is still proven,
//! byte range and BLAKE3, in the proof's `inactive` list ([`crate::proof`]).
//!
//! Not covered: other architectures (BOLT also rewrites AArch64 binaries; their remains stay
//! among the functions), and references computed at run time (`dlsym` cannot name an unnamed
//! range; arithmetic on code addresses is not something compilers emit for calls).

use std::collections::HashSet;

use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind, Register};
use object::{Architecture, Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, SectionKind};
use rayon::prelude::*;

use crate::functions::AddressMap;

/// The role of a range this module classifies.
pub const ROLE: &str = "bolt-original";

/// The executable `.bolt.org.*` sections of `file`, as `[start, end)`; empty when BOLT did not
/// process it or it is not an x86-64 ELF.
fn original_text(file: &object::File<'_>) -> Vec<(u64, u64)> {
    if file.architecture() != Architecture::X86_64 || file.format() != object::BinaryFormat::Elf {
        return Vec::new();
    }
    file.sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .filter(|s| s.name().is_ok_and(|n| n.starts_with(".bolt.org.")))
        .map(|s| (s.address(), s.address().saturating_add(s.size())))
        .collect()
}

fn is_allocated(section: &object::Section<'_, '_>) -> bool {
    matches!(section.flags(), object::SectionFlags::Elf { sh_flags, .. }
        if sh_flags.0 & object::elf::SHF_ALLOC.0 != 0)
}

/// Which of `ranges` (sorted by start; `named` when a symbol or DWARF names it) are BOLT's
/// remains (module docs), as indices in ascending order.
pub(crate) fn remains(
    file: &object::File<'_>,
    data: &[u8],
    map: &AddressMap,
    ranges: &[(u64, u64, bool)],
) -> Vec<usize> {
    let org = original_text(file);
    if org.is_empty() {
        return Vec::new();
    }
    // Candidates, by start (ranges are sorted by start; equal starts keep their first range).
    let mut candidates: Vec<(u64, usize)> = ranges
        .iter()
        .enumerate()
        .filter(|&(_, &(start, end, named))| {
            !named && end > start && org.iter().any(|&(lo, hi)| lo <= start && end <= hi)
        })
        .map(|(i, &(start, _, _))| (start, i))
        .collect();
    candidates.dedup_by_key(|&mut (start, _)| start);
    if candidates.is_empty() {
        return Vec::new();
    }
    let starts: Vec<u64> = candidates.iter().map(|&(s, _)| s).collect();
    let lookup = Lookup::new(&starts);
    let mut live = vec![false; starts.len()];
    let mut found: Vec<usize> = Vec::new();

    // Outside code: the entry point, dynamic relocations, and in a position-dependent
    // executable the aligned words of allocated data (in a shared object or PIE, an address
    // stored without a relocation is no address once loaded).
    let absolute = matches!(file.kind(), object::ObjectKind::Executable);
    found.extend(lookup.find(file.entry()));
    if let Some(relocations) = file.dynamic_relocations() {
        let symbols = file.dynamic_symbol_table();
        for (_, r) in relocations {
            let base = match r.target() {
                object::RelocationTarget::Absolute => Some(0),
                object::RelocationTarget::Symbol(index) => symbols
                    .as_ref()
                    .and_then(|t| t.symbol_by_index(index).ok())
                    .map(|s| s.address()),
                _ => None,
            };
            if let Some(base) = base {
                found.extend(lookup.find(base.wrapping_add_signed(r.addend())));
            }
        }
    }
    if absolute {
        let words: Vec<&[u8]> = file
            .sections()
            .filter(|s| s.kind() != SectionKind::Text && is_allocated(s))
            .filter_map(|s| {
                let bytes = map.bytes(data, s.address(), s.address().checked_add(s.size())?)?;
                let skip = usize::try_from((8 - s.address() % 8) % 8).ok()?;
                bytes.get(skip.min(bytes.len())..)
            })
            .collect();
        let in_data: Vec<usize> = words
            .par_iter()
            .flat_map_iter(|bytes| {
                bytes
                    .chunks_exact(8)
                    .filter_map(|w| w.try_into().ok().map(u64::from_le_bytes))
                    .filter_map(|w| lookup.find(w))
                    .collect::<Vec<_>>()
            })
            .collect();
        found.extend(in_data);
    }

    // Code: every executable byte outside the candidates, then each candidate reached. A
    // reference found in the bytes is confirmed by decoding from the start of the range that
    // holds it (or of the stretch of code, between ranges).
    let scan = Scan {
        data,
        map,
        lookup,
        absolute,
        known: ranges
            .iter()
            .filter(|r| r.1 > r.0)
            .map(|r| r.0)
            .filter(|s| starts.binary_search(s).is_err())
            .collect(),
    };
    let mut live_code: Vec<(u64, u64)> = Vec::new();
    for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
        let (mut at, end) = (
            section.address(),
            section.address().saturating_add(section.size()),
        );
        let first = starts.partition_point(|&s| s < at);
        for &(start, i) in &candidates[first..] {
            if start >= end {
                break;
            }
            if start > at {
                live_code.push((at, start));
            }
            at = at.max(ranges[i].1);
        }
        if at < end {
            live_code.push((at, end));
        }
    }
    let in_code: Vec<usize> = live_code
        .par_iter()
        .flat_map_iter(|&(start, end)| scan.references(start, end))
        .collect();
    found.extend(in_code);
    while !found.is_empty() {
        let fresh: Vec<usize> = found
            .drain(..)
            .filter(|&k| !std::mem::replace(&mut live[k], true))
            .collect();
        found = fresh
            .par_iter()
            .flat_map_iter(|&k| {
                let (start, end, _) = ranges[candidates[k].1];
                scan.references(start, end)
            })
            .collect();
    }
    candidates
        .iter()
        .zip(&live)
        .filter(|(_, live)| !**live)
        .map(|(&(_, i), _)| i)
        .collect()
}

/// What finding references needs.
struct Scan<'a> {
    data: &'a [u8],
    map: &'a AddressMap,
    lookup: Lookup<'a>,
    absolute: bool,
    /// Starts of the ranges that are not candidates, sorted: where decoding begins.
    known: Vec<u64>,
}

impl Scan<'_> {
    /// The candidates that the code `[start, end)` refers to (module docs).
    fn references(&self, start: u64, end: u64) -> Vec<usize> {
        match self.map.bytes(self.data, start, end) {
            Some(bytes) => self.references_in(bytes, start),
            None => Vec::new(),
        }
    }

    /// The candidates that `bytes`, code at address `start`, refers to.
    fn references_in(&self, bytes: &[u8], start: u64) -> Vec<usize> {
        // Hits arrive by address: the ones that share where decoding starts form a group, kept
        // as the set of candidates they name (not one entry per hit, however many bytes match)
        // and the last address to decode to.
        let mut confirmed = Vec::new();
        let mut group = Group {
            from: start,
            last: start,
            wanted: HashSet::new(),
        };
        maybe_references(bytes, start, self.absolute, &self.lookup, &mut |here, k| {
            // Decoding starts at the last range start at or before the hit, within this code.
            let from = self.known[..self.known.partition_point(|&s| s <= here)]
                .last()
                .copied()
                .filter(|&s| s >= start)
                .unwrap_or(start);
            if from != group.from && !group.wanted.is_empty() {
                self.confirm(bytes, start, &group, &mut confirmed);
                group.wanted.clear();
            }
            group.from = from;
            group.last = here;
            group.wanted.insert(k);
        });
        if !group.wanted.is_empty() {
            self.confirm(bytes, start, &group, &mut confirmed);
        }
        confirmed
    }

    /// Decodes `bytes` (at `base`) from the group's start past its last hit, and pushes each
    /// wanted candidate a decoded instruction refers to.
    fn confirm(&self, bytes: &[u8], base: u64, group: &Group, out: &mut Vec<usize>) {
        let Some(skip) = group
            .from
            .checked_sub(base)
            .and_then(|d| usize::try_from(d).ok())
        else {
            return;
        };
        let Some(code) = bytes.get(skip..) else {
            return;
        };
        let mut seen = HashSet::new();
        let mut decoder = Decoder::with_ip(64, code, group.from, DecoderOptions::NONE);
        let mut insn = Instruction::default();
        while decoder.can_decode() && decoder.ip() <= group.last {
            decoder.decode_out(&mut insn);
            for target in targets(&insn, self.absolute) {
                if let Some(k) = self.lookup.find(target)
                    && group.wanted.contains(&k)
                    && seen.insert(k)
                {
                    out.push(k);
                }
            }
        }
    }
}

/// Hits that share where decoding starts.
struct Group {
    from: u64,
    last: u64,
    wanted: HashSet<usize>,
}

/// The addresses an instruction refers to: its near branch target and RIP-relative memory
/// address, and with `absolute` its immediates and absolute memory displacement.
fn targets(insn: &Instruction, absolute: bool) -> impl Iterator<Item = u64> {
    let mut out = [None; 4];
    for i in 0..insn.op_count() {
        match insn.op_kind(i) {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                out[0] = Some(insn.near_branch_target());
            }
            OpKind::Memory if insn.is_ip_rel_memory_operand() => {
                out[1] = Some(insn.ip_rel_memory_address());
            }
            OpKind::Memory if absolute && insn.memory_base() == Register::None => {
                out[2] = Some(insn.memory_displacement64());
            }
            OpKind::Immediate32 if absolute => out[3] = Some(u64::from(insn.immediate32())),
            OpKind::Immediate32to64 if absolute => out[3] = Some(insn.immediate32to64() as u64),
            OpKind::Immediate64 if absolute => out[3] = Some(insn.immediate64()),
            _ => {}
        }
    }
    out.into_iter().flatten()
}

/// Candidate starts, sorted, with the bounds that rule most values out at once.
struct Lookup<'a> {
    starts: &'a [u64],
    lo: u64,
    hi: u64,
}

impl<'a> Lookup<'a> {
    fn new(starts: &'a [u64]) -> Self {
        Lookup {
            starts,
            lo: starts.first().copied().unwrap_or(u64::MAX),
            hi: starts.last().copied().unwrap_or(0),
        }
    }

    /// The index of the candidate starting at `value`.
    #[inline]
    fn find(&self, value: u64) -> Option<usize> {
        if value < self.lo || value > self.hi {
            return None;
        }
        self.starts.binary_search(&value).ok()
    }
}

fn rel(at: u64, len: u64, offset: i64) -> u64 {
    at.wrapping_add(len).wrapping_add_signed(offset)
}

/// What a byte can start, as far as references go ([`maybe_references`]).
const CALL_JMP: u8 = 1;
const TWO_BYTE: u8 = 2;
const SHORT: u8 = 4;
const RIP_MODRM: u8 = 8;

const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let byte = b as u8;
        let mut class = 0;
        if byte == 0xE8 || byte == 0xE9 {
            class |= CALL_JMP;
        }
        if byte == 0x0F {
            class |= TWO_BYTE;
        }
        if byte == 0xEB || (byte >= 0x70 && byte <= 0x7F) || (byte >= 0xE0 && byte <= 0xE3) {
            class |= SHORT;
        }
        // A ModRM byte of a RIP-relative operand: mod 00, r/m 101.
        if byte & 0xC7 == 0x05 {
            class |= RIP_MODRM;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// A short branch reaches 128 bytes back and 127 forward from the end of its 2 bytes.
const SHORT_REACH: u64 = 130;

/// Calls `hits` with every `(address, candidate)` where `bytes` (code at address `at`) may hold
/// an instruction referring to the candidate: a superset of what decoding finds, without
/// knowing where instructions start.
fn maybe_references(
    bytes: &[u8],
    at: u64,
    absolute: bool,
    lookup: &Lookup<'_>,
    hits: &mut impl FnMut(u64, usize),
) {
    let le32 = |p: usize| -> Option<i32> {
        bytes
            .get(p..p + 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_le_bytes)
    };
    // The first candidate that a short branch from here could still reach.
    let mut near = lookup
        .starts
        .partition_point(|&s| s.saturating_add(SHORT_REACH) < at);
    for (p, &b) in bytes.iter().enumerate() {
        let class = CLASSES[usize::from(b)];
        if class == 0 && !absolute {
            continue;
        }
        let here = at.wrapping_add(p as u64);
        let mut hit = |target: u64| {
            if let Some(k) = lookup.find(target) {
                hits(here, k);
            }
        };
        if class & CALL_JMP != 0
            && let Some(d) = le32(p + 1)
        {
            hit(rel(here, 5, i64::from(d)));
        }
        if class & TWO_BYTE != 0
            && let (Some(0x80..=0x8F), Some(d)) = (bytes.get(p + 1), le32(p + 2))
        {
            hit(rel(here, 6, i64::from(d)));
        }
        if class & SHORT != 0 {
            while lookup
                .starts
                .get(near)
                .is_some_and(|&s| s.saturating_add(SHORT_REACH) < here)
            {
                near += 1;
            }
            if lookup
                .starts
                .get(near)
                .is_some_and(|&s| s <= here.saturating_add(SHORT_REACH))
                && let Some(&d) = bytes.get(p + 1)
            {
                hit(rel(here, 2, i64::from(d as i8)));
            }
        }
        // The displacement follows the ModRM byte, and the instruction ends after it and an
        // immediate of 0, 1, 2 or 4 bytes.
        if class & RIP_MODRM != 0
            && let Some(d) = le32(p + 1)
        {
            for imm in [0, 1, 2, 4] {
                hit(rel(here, 5 + imm, i64::from(d)));
            }
        }
        if absolute {
            if let Some(v) = le32(p) {
                hit(u64::from(v as u32));
            }
            if let Some(w) = bytes.get(p..p + 8).and_then(|b| b.try_into().ok()) {
                hit(u64::from_le_bytes(w));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates (by index into `starts`) that `code` at `at` refers to, after decoding.
    fn refs(code: &[u8], at: u64, starts: &[u64], absolute: bool) -> Vec<usize> {
        let map = AddressMap::default();
        let scan = Scan {
            data: code,
            map: &map,
            lookup: Lookup::new(starts),
            absolute,
            known: Vec::new(),
        };
        let mut found = scan.references_in(code, at);
        found.sort_unstable();
        found
    }

    #[test]
    fn every_branch_and_rip_relative_form_is_a_reference() {
        // call rel32 at 0x1000 → 0x1000 + 5 + 0x10 = 0x1015.
        assert_eq!(refs(&[0xE8, 0x10, 0, 0, 0], 0x1000, &[0x1015], false), [0]);
        // jmp rel32 backwards: 0x2000 + 5 - 0x100 = 0x1f05.
        assert_eq!(
            refs(&[0xE9, 0x00, 0xFF, 0xFF, 0xFF], 0x2000, &[0x1f05], false),
            [0]
        );
        // jne rel32: 0x1000 + 6 + 0x20.
        assert_eq!(
            refs(&[0x0F, 0x85, 0x20, 0, 0, 0], 0x1000, &[0x1026], false),
            [0]
        );
        // jmp rel8 backwards onto itself: 0x1000 + 2 - 2.
        assert_eq!(refs(&[0xEB, 0xFE], 0x1000, &[0x1000], false), [0]);
        // jg rel8 as far forward and back as it reaches, with other candidates out of reach.
        let starts = [0x800, 0x1000 + 2 - 128, 0x1000 + 2 + 127, 0x5000];
        assert_eq!(refs(&[0x7F, 0x7F], 0x1000, &starts, false), [2]);
        assert_eq!(refs(&[0x7F, 0x80], 0x1000, &starts, false), [1]);
        // lea rax, [rip + 0x40]: 48 8D 05 disp32, the instruction ends at 0x1007.
        let lea = [0x48, 0x8D, 0x05, 0x40, 0, 0, 0];
        assert_eq!(refs(&lea, 0x1000, &[0x1047], false), [0]);
        assert!(refs(&lea, 0x1000, &[0x1046], false).is_empty());
        // cmp byte [rip + 0x40], 1: 80 3D disp32 imm8, the instruction ends at 0x1007.
        let cmp = [0x80, 0x3D, 0x40, 0, 0, 0, 0x01];
        assert_eq!(refs(&cmp, 0x1000, &[0x1047], false), [0]);
    }

    #[test]
    fn bytes_inside_another_instruction_are_not_a_reference() {
        // mov eax, 0x10e8 (B8 E8 10 00 00) then add [rax], al (00 00): read from 0x1001, the
        // bytes say call 0x1001 + 5 + 0x10; decoded from the start, there is no call.
        let code = [0xB8, 0xE8, 0x10, 0x00, 0x00, 0x00, 0x00];
        let starts = [0x1016];
        let mut hits = Vec::new();
        let lookup = Lookup::new(&starts);
        maybe_references(&code, 0x1000, false, &lookup, &mut |at, k| {
            hits.push((at, k))
        });
        assert_eq!(hits, [(0x1001, 0)]);
        assert!(refs(&code, 0x1000, &starts, false).is_empty());
    }

    #[test]
    fn code_made_of_calls_is_decoded_once() {
        // 64 KiB of `call +0`: every byte offset matches some rel32 form; each call targets the
        // next instruction, and only the candidate at the end is confirmed, once.
        let code: Vec<u8> = [0xE8, 0, 0, 0, 0].repeat(13_107);
        let end = 0x1000 + code.len() as u64;
        assert_eq!(refs(&code, 0x1000, &[0x1005, end], false), [0, 1]);
        assert_eq!(refs(&code, 0x1000, &[end], false), [0]);
    }

    #[test]
    fn immediates_count_only_in_position_dependent_executables() {
        // mov edi, 0x401000
        let code = [0xBF, 0x00, 0x10, 0x40, 0x00];
        assert!(refs(&code, 0x1000, &[0x40_1000], false).is_empty());
        assert_eq!(refs(&code, 0x1000, &[0x40_1000], true), [0]);
    }

    #[test]
    fn truncated_instructions_at_the_end_refer_to_nothing() {
        for code in [
            &[0xE8, 0x10, 0][..],
            &[0x0F, 0x85],
            &[0xEB],
            &[0x8D, 0x05, 1],
        ] {
            assert!(refs(code, 0x1000, &[0x1015, 0x1001, 0x1002], false).is_empty());
        }
    }
}
