//! The branches of aarch64 code that make call-graph edges, decoded with `yaxpeax-arm`.
//!
//! What counts as an edge, for one function part `[start, end)`:
//! - `BL label`: a call, wherever it leads.
//! - `B label` leaving the part: a tail call (or a jump to the function's own cold fragment,
//!   which the caller drops as a self edge).
//! - `B.cond`, `CBZ`/`CBNZ`, `TBZ`/`TBNZ` leaving the part: a conditional tail call only when
//!   the target is the *start* of a function or a PLT entry. A tail call enters its callee at its
//!   entry; a conditional branch into the middle of other code is a boundary the function tables
//!   got wrong, or code shared by identical-code folding, and makes no edge.
//! - `BLR Xn` / `BR Xn` where `Xn` was loaded from a GOT slot by `ADRP Xa, page` then
//!   `LDR Xn, [Xa, #off]` (or `ADRP`, `ADD Xa, Xa, #off`, `LDR Xn, [Xa]`): the `-fno-plt` call of
//!   an import, named by the slot's dynamic relocation. `BLR`/`BR` of an address made by
//!   `ADRP`+`ADD` alone is a call of that address.
//!
//! Register values are followed within a linear sweep only: a value is forgotten when any
//! instruction names its register first (the destination, in A64's operand order), and a call
//! forgets the registers the AAPCS64 lets a callee change (`x0`–`x18`, `x30`). Not followed:
//! values that pass through memory other than a GOT slot, or branches whose target is
//! computed otherwise — the graph holds direct paths only, as the crate documents.
//!
//! Not this module's job: naming targets (the caller maps addresses to functions) and sections.
//! A word that does not decode, and the 1–3 bytes past a part's last whole word, are skipped.

use yaxpeax_arch::{Arch, Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{ARMv8, InstDecoder, Instruction, Opcode, Operand, SizeCode};

use super::{ImportNames, Target};

/// A register's known value in the sweep.
#[derive(Clone, Copy)]
enum Known<'i> {
    /// An address made by `ADRP` (and `ADD`).
    Address(u64),
    /// The content of a GOT slot with a dynamic relocation naming this import.
    Import(&'i str),
}

/// Registers a callee may change (AAPCS64): `x0`–`x18` and the link register `x30`.
const CALL_CLOBBERED: [usize; 20] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30,
];

/// Decodes each whole 4-byte word of `bytes` (at address `base`): `(address, instruction)`,
/// `None` for a word that does not decode.
pub(crate) fn instructions(
    bytes: &[u8],
    base: u64,
) -> impl Iterator<Item = (u64, Option<Instruction>)> + '_ {
    let decoder = <ARMv8 as Arch>::Decoder::default();
    bytes
        .chunks_exact(4)
        .enumerate()
        .map(move |(i, word)| (base.wrapping_add(4 * i as u64), decode(&decoder, word)))
}

fn decode(decoder: &InstDecoder, word: &[u8]) -> Option<Instruction> {
    decoder.decode(&mut U8Reader::new(word)).ok()
}

/// The PC-relative target of a branch or `ADRP` at `pc` (an `ADRP`'s offset is from `pc`'s page).
fn pc_target(insn: &Instruction, pc: u64) -> Option<u64> {
    let offset = insn.operands.iter().find_map(|o| match o {
        Operand::PCOffset(offset) => Some(*offset),
        _ => None,
    })?;
    let from = if insn.opcode == Opcode::ADRP {
        pc & !0xfff
    } else {
        pc
    };
    Some(from.wrapping_add_signed(offset))
}

/// The number of an X register operand (`x0`–`x30`; 31 is `xzr` or `sp`, never tracked).
fn x_register(operand: &Operand) -> Option<usize> {
    match *operand {
        Operand::Register(SizeCode::X, n) | Operand::RegisterOrSP(SizeCode::X, n) if n < 31 => {
            Some(usize::from(n))
        }
        _ => None,
    }
}

/// Appends the edges' targets of the part `[start, end)` whose bytes are `bytes` to `out`.
pub(super) fn branch_targets<'i>(
    bytes: &[u8],
    start: u64,
    end: u64,
    imports: &'i ImportNames,
    out: &mut Vec<Target<'i>>,
) {
    let mut known: [Option<Known<'i>>; 31] = [None; 31];
    let leaves = |target: u64| !(start..end).contains(&target);
    for (pc, insn) in instructions(bytes, start) {
        let Some(insn) = insn else {
            continue;
        };
        match insn.opcode {
            Opcode::BL => {
                if let Some(target) = pc_target(&insn, pc) {
                    out.push(Target::Address(target));
                }
                CALL_CLOBBERED.iter().for_each(|&r| known[r] = None);
                continue;
            }
            Opcode::B => {
                if let Some(target) = pc_target(&insn, pc).filter(|&t| leaves(t)) {
                    out.push(Target::Address(target));
                }
                continue;
            }
            Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ => {
                if let Some(target) = pc_target(&insn, pc).filter(|&t| leaves(t)) {
                    out.push(Target::Entry(target));
                }
                continue;
            }
            Opcode::BLR | Opcode::BR => {
                match x_register(&insn.operands[0]).and_then(|r| known[r]) {
                    Some(Known::Import(name)) => out.push(Target::Import(name)),
                    Some(Known::Address(address)) => out.push(Target::Address(address)),
                    None => {}
                }
                if insn.opcode == Opcode::BLR {
                    CALL_CLOBBERED.iter().for_each(|&r| known[r] = None);
                }
                continue;
            }
            _ => {}
        }
        let value = match (insn.opcode, &insn.operands) {
            (Opcode::ADRP, _) => pc_target(&insn, pc).map(Known::Address),
            (Opcode::ADD, [_, source, Operand::Immediate(imm), Operand::Nothing]) => {
                match x_register(source).and_then(|r| known[r]) {
                    Some(Known::Address(a)) => {
                        Some(Known::Address(a.wrapping_add(u64::from(*imm))))
                    }
                    _ => None,
                }
            }
            (
                Opcode::LDR,
                [
                    Operand::Register(SizeCode::X, _),
                    Operand::RegPreIndex(base, offset, false),
                    ..,
                ],
            ) => match known.get(usize::from(*base)).copied().flatten() {
                Some(Known::Address(a)) => imports
                    .got
                    .get(&a.wrapping_add_signed(i64::from(*offset)))
                    .map(|name| Known::Import(name.as_str())),
                _ => None,
            },
            _ => None,
        };
        if let Some(written) = x_register(&insn.operands[0]) {
            known[written] = value;
        }
    }
}

/// `(entry address, GOT slot)` of each aarch64 PLT entry of the PLT section `bytes` at `base`:
/// an entry is `adrp x16, page` then `ldr x17, [x16, #off]` (slot `page + off`), opened by a
/// `bti c` when the binary was linked for branch target identification.
pub(super) fn plt_slots(bytes: &[u8], base: u64) -> Vec<(u64, u64)> {
    let decoded: Vec<(u64, Option<Instruction>)> = instructions(bytes, base).collect();
    let mut out = Vec::new();
    for (i, pair) in decoded.windows(2).enumerate() {
        let ((pc, Some(adrp)), (_, Some(ldr))) = (&pair[0], &pair[1]) else {
            continue;
        };
        if adrp.opcode != Opcode::ADRP || ldr.opcode != Opcode::LDR {
            continue;
        }
        let (Some(page), Some(base_register)) =
            (pc_target(adrp, *pc), x_register(&adrp.operands[0]))
        else {
            continue;
        };
        let Operand::RegPreIndex(n, offset, false) = ldr.operands[1] else {
            continue;
        };
        if usize::from(n) != base_register {
            continue;
        }
        let opened_by_bti = i
            .checked_sub(1)
            .and_then(|j| decoded.get(j))
            .is_some_and(|(_, insn)| insn.as_ref().is_some_and(is_bti));
        let entry = if opened_by_bti { pc - 4 } else { *pc };
        out.push((entry, page.wrapping_add_signed(i64::from(offset))));
    }
    out
}

/// `bti`, `bti c`, `bti j`, `bti jc`: `hint #32`–`#38` (CRm = 4).
pub(crate) fn is_bti(insn: &Instruction) -> bool {
    insn.opcode == Opcode::HINT && matches!(insn.operands[0], Operand::ControlReg(4))
}

/// `nop` (`hint #0`).
pub(crate) fn is_nop(insn: &Instruction) -> bool {
    insn.opcode == Opcode::HINT
        && matches!(
            (insn.operands[0], insn.operands[1]),
            (Operand::ControlReg(0), Operand::Immediate(0))
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn imports(got: &[(u64, &str)]) -> ImportNames {
        ImportNames {
            got: got.iter().map(|&(a, n)| (a, n.to_owned())).collect(),
            ..ImportNames::default()
        }
    }

    fn targets(words: &[u32], start: u64, imports: &ImportNames) -> Vec<String> {
        let code = bytes(words);
        let mut out = Vec::new();
        branch_targets(&code, start, start + code.len() as u64, imports, &mut out);
        out.iter()
            .map(|t| match t {
                Target::Address(a) => format!("call {a:#x}"),
                Target::Entry(a) => format!("entry {a:#x}"),
                Target::Import(n) => format!("import {n}"),
            })
            .collect()
    }

    #[test]
    fn calls_tail_calls_and_branches_that_stay() {
        let words = [
            0x9400_0010, // 0x1000: bl 0x1040
            0x1400_0002, // 0x1004: b 0x100c (inside)
            0x17ff_fc00, // 0x1008: b 0x8 (leaves: tail call)
            0x5400_0040, // 0x100c: b.eq 0x1014 (inside)
            0xb400_2000, // 0x1010: cbz x0, 0x1410 (leaves: entry)
            0x3600_ff00, // 0x1014: tbz w0, #0, 0x2ff4 (leaves: entry)
            0xd65f_03c0, // 0x1018: ret
        ];
        assert_eq!(
            targets(&words, 0x1000, &ImportNames::default()),
            vec!["call 0x1040", "call 0x8", "entry 0x1410", "entry 0x2ff4"]
        );
    }

    #[test]
    fn got_loads_name_the_import_called_through_a_register() {
        // The GOT slot of `puts` is 0x11fe8 (page 0x11000 + 0xfe8).
        let got = imports(&[(0x11fe8, "puts"), (0x11ff0, "abort")]);
        let words = [
            0x9000_0080, // 0x1000: adrp x0, 0x11000
            0xf947_f400, // 0x1004: ldr x0, [x0, #0xfe8]
            0xd63f_0000, // 0x1008: blr x0  -> puts
            0xd63f_0000, // 0x100c: blr x0  (x0 clobbered by the call: nothing)
            0x9000_0090, // 0x1010: adrp x16, 0x11000
            0x9000_0071, // 0x1014: adrp x17, 0xd000
            0x913f_c231, // 0x1018: add x17, x17, #0xff0 -> 0xdff0
            0x9100_0231, // 0x101c: add x17, x17, #0 -> 0xdff0
            0xd61f_0220, // 0x1020: br x17 -> call 0xdff0 (an address, not a slot)
            0x9000_0081, // 0x1024: adrp x1, 0x11000
            0x913f_c021, // 0x1028: add x1, x1, #0xff0 -> 0x11ff0
            0xf940_0022, // 0x102c: ldr x2, [x1] -> abort
            0xaa1f_03e1, // 0x1030: mov x1, xzr (forgets x1: orr x1, xzr, xzr)
            0xd61f_0040, // 0x1034: br x2 -> abort
            0xd61f_0020, // 0x1038: br x1 -> nothing
        ];
        assert_eq!(
            targets(&words, 0x1000, &got),
            vec!["import puts", "call 0xdff0", "import abort"]
        );
    }

    #[test]
    fn plt_entries_with_and_without_bti() {
        let plt = [
            0x9000_0090, // 0x400: adrp x16, 0x10000
            0xf940_0611, // 0x404: ldr x17, [x16, #8]
            0x9100_2210, // 0x408: add x16, x16, #8
            0xd61f_0220, // 0x40c: br x17
            0xd503_245f, // 0x410: bti c
            0x9000_0090, // 0x414: adrp x16, 0x10000
            0xf940_0a11, // 0x418: ldr x17, [x16, #16]
            0xd61f_0220, // 0x41c: br x17
        ];
        assert_eq!(
            plt_slots(&bytes(&plt), 0x400),
            vec![(0x400, 0x10008), (0x410, 0x10010)]
        );
    }

    #[test]
    fn truncated_words_and_undecodable_ones_are_skipped() {
        let none = ImportNames::default();
        let mut code = bytes(&[0xffff_ffff, 0x9400_0001]);
        code.extend([0x94, 0x00]);
        let mut out = Vec::new();
        branch_targets(&code, 0x0, code.len() as u64, &none, &mut out);
        assert!(matches!(out.as_slice(), [Target::Address(0x8)]));
        // A branch to nowhere wraps instead of overflowing.
        let mut out = Vec::new();
        let code = bytes(&[0x9600_0000]); // bl -0x8000000
        branch_targets(&code, 0x10, 0x14, &none, &mut out);
        assert!(
            matches!(out.as_slice(), [Target::Address(a)] if *a == 0x10u64.wrapping_sub(0x800_0000))
        );
    }
}
