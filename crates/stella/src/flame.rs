//! Flame graphs of recorded stacks, rendered by `inferno` as SVG: the one place the CLI turns
//! stacks into a picture, for `stella record --format svg` and the evidence report. It owns
//! frame labels (what a frame is called in the picture) and marking frames; it does not own
//! naming frames (the symboliser) or what the stacks are (`stella_runtime::profile`).

use std::collections::BTreeMap;

use anyhow::anyhow;
use stella_runtime::frame::{Frame, Location};
use stella_runtime::profile::Stack;

use crate::exit::CliError;

/// The class of a marked frame's `<g>` element.
pub(crate) const MARKED_CLASS: &str = "stella-vulnerable";

/// A frame's name as a flame graph shows it: no control characters (they would break the
/// collapsed line or the attribute file), no `;` (the collapsed format's separator).
pub(crate) fn frame_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() || c == ';' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A frame's name in inferno's input: [`frame_name`] with its spaces as no-break spaces, which
/// look the same. Inferno reads a line's last space-separated numbers as its counts (two of
/// them make a differential graph), so a leaf named `f 12` would change the graph.
pub(crate) fn label(name: &str) -> String {
    frame_name(name).replace(' ', "\u{a0}")
}

/// The label of a stack's process: its command name, else its pid.
pub(crate) fn process_label(stack: &Stack) -> String {
    label(&match (&stack.comm, stack.pid) {
        (Some(comm), _) => comm.clone(),
        (None, Some(pid)) => format!("[pid {pid}]"),
        (None, None) => "[unknown process]".to_owned(),
    })
}

/// The label of a frame as a flame graph groups it: the function without its offset (so every
/// sample in one function is one box), kernel frames as `name_[k]` and JIT frames as
/// `name_[j]` (the flame-graph colour conventions), an unnamed frame as `[unknown in BINARY]`
/// (`binary` names it when the caller knows better than the frame's path).
pub(crate) fn frame_label(frame: &Frame, binary: Option<&str>) -> String {
    let suffix = match &frame.location {
        Location::Kernel { .. } => "_[k]",
        Location::Anonymous { .. } => "_[j]",
        Location::Named { path: Some(p), .. } if p == stella_runtime::collapsed::KERNEL => "_[k]",
        Location::Named { path: Some(p), .. } if p == stella_runtime::collapsed::JIT => "_[j]",
        _ => "",
    };
    match &frame.symbol {
        Some(s) => label(&format!("{}{suffix}", s.display_name())),
        None => {
            let binary = binary.map(str::to_owned).or_else(|| match &frame.location {
                Location::File { path, build_id, .. } | Location::Named { path, build_id } => path
                    .clone()
                    .or_else(|| build_id.as_ref().map(|b| format!("buildid={b}"))),
                Location::Kernel { .. } => Some("kernel".to_owned()),
                Location::Anonymous { .. } => Some("jit".to_owned()),
            });
            label(&format!(
                "[unknown in {}]",
                binary.as_deref().unwrap_or("unknown binary")
            ))
        }
    }
}

/// How a flame graph is drawn.
pub(crate) struct Drawing<'a> {
    /// Its title.
    pub title: &'a str,
    /// Its width in pixels.
    pub width: usize,
    /// Labels to mark, each with the title its box shows.
    pub marked: &'a BTreeMap<String, String>,
}

/// The SVG of `stacks` (each its labels root first, and its count), deterministic: the same
/// stacks give the same bytes.
pub(crate) fn svg(
    stacks: &BTreeMap<String, u64>,
    drawing: &Drawing<'_>,
) -> Result<String, CliError> {
    let mut attrs = String::new();
    for (name, title) in drawing.marked {
        attrs.push_str(&format!(
            "{name}\tclass={MARKED_CLASS}\ttitle={}\n",
            frame_name(title)
        ));
    }
    let mut options = inferno::flamegraph::Options::default();
    drawing.title.clone_into(&mut options.title);
    options.count_name = "samples".to_owned();
    options.deterministic = true;
    options.hash = true;
    options.image_width = Some(drawing.width);
    options.func_frameattrs = inferno::flamegraph::FuncFrameAttrsMap::from_reader(attrs.as_bytes())
        .map_err(|e| CliError::environment(anyhow!("the flame graph's frame attributes: {e}")))?;
    let collapsed: Vec<String> = stacks
        .iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, collapsed.iter().map(String::as_str), &mut svg)
        .map_err(|e| CliError::environment(anyhow!("rendering the flame graph: {e}")))?;
    String::from_utf8(svg)
        .map_err(|e| CliError::environment(anyhow!("the flame graph is not UTF-8: {e}")))
}

/// The stacks of a profile as flame graph lines (process, then frames root first), with their
/// counts summed: what `stella record --format svg` draws.
pub(crate) fn lines_of(stacks: &[Stack]) -> BTreeMap<String, u64> {
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for stack in stacks {
        let segments: Vec<String> = std::iter::once(process_label(stack))
            .chain(stack.frames.iter().rev().map(|f| frame_label(f, None)))
            .collect();
        *lines.entry(segments.join(";")).or_default() += stack.count;
    }
    lines
}

/// Collapsed stacks for flame graph tools, as `stella record` and `stella symbolize` write them
/// by default: the lines [`lines_of`] draws (process, then each frame by its [`frame_label`],
/// no offsets, no BuildID segments), the hottest first, then by name. Names keep their plain
/// spaces, so that they read and search as written, except a leaf whose last word is a number:
/// its spaces stay no-break spaces, or a tool would read that number as a count.
pub(crate) fn folded(stacks: &[Stack]) -> String {
    let mut lines: Vec<(String, u64)> = lines_of(stacks)
        .into_iter()
        .map(|(line, count)| {
            let leaf = line.rsplit(';').next().unwrap_or_default();
            let counts_like = leaf
                .rsplit('\u{a0}')
                .next()
                .is_some_and(|word| word != leaf && word.parse::<f64>().is_ok());
            if counts_like {
                let (stem, leaf) = line.rsplit_once(';').unwrap_or(("", &line));
                let stem = stem.replace('\u{a0}', " ");
                (format!("{stem};{leaf}"), count)
            } else {
                (line.replace('\u{a0}', " "), count)
            }
        })
        .collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    lines
        .into_iter()
        .map(|(line, count)| format!("{line} {count}\n"))
        .collect()
}

/// The labels in `lines` (for tests and summaries).
#[cfg(test)]
pub(crate) fn labels(lines: &BTreeMap<String, u64>) -> std::collections::BTreeSet<String> {
    lines
        .keys()
        .flat_map(|l| l.split(';').map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_name_keeps_no_separator_or_control_character() {
        assert_eq!(frame_name("a;b\tc\nd"), "a b c d");
        assert_eq!(frame_name("<script>"), "<script>");
    }

    #[test]
    fn folded_lines_keep_plain_spaces_but_never_end_in_two_numbers() {
        let frame = |name: &str| Frame {
            location: Location::Named {
                build_id: None,
                path: Some("/bin/app".to_owned()),
            },
            symbol: Some(stella_runtime::frame::Symbol {
                function: name.to_owned(),
                demangled: None,
                offset: 0,
                source: stella_runtime::frame::SymbolSource::File,
                inlined: Vec::new(),
                file: None,
                line: None,
            }),
        };
        let stack = |leaf: &str, count: u64| Stack {
            pid: None,
            comm: Some("app".to_owned()),
            container: None,
            image: None,
            count,
            frames: vec![frame(leaf), frame("operator new(unsigned long)")],
        };
        let text = folded(&[stack("f 12", 3), stack("g()", 5)]);
        assert_eq!(
            text,
            "app;operator new(unsigned long);g() 5\n\
             app;operator new(unsigned long);f\u{a0}12 3\n"
        );
    }

    #[test]
    fn a_leaf_named_like_a_count_stays_a_name() {
        let leaf = label("f 12");
        let lines = BTreeMap::from([(format!("main;{leaf}"), 30)]);
        let svg = svg(
            &lines,
            &Drawing {
                title: "t",
                width: 800,
                marked: &BTreeMap::new(),
            },
        )
        .expect("renders");
        // A frame named `f 12` with 30 samples, not a frame `f` differing from 12 to 30.
        assert!(svg.contains(&format!("{leaf} (30 samples")), "{svg}");
        assert!(labels(&lines).contains(&leaf));
    }
}
