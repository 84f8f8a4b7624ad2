//! Progress of the library's flows on a terminal: one bar (or spinner) per phase on stderr,
//! cleared when the phase ends. Off a terminal, or with `--json`, phases become log events
//! (`-v`). The flows report through `stella_evidence::Progress`; only drawing lives here.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use stella_evidence::progress::{Event, Phase, Progress, Traced};

/// Draws phases as bars on stderr.
pub struct Bars {
    current: Mutex<Option<(Phase, ProgressBar)>>,
}

/// The progress a command reports to: bars on a terminal unless `quiet`, log events otherwise.
pub fn for_terminal(quiet: bool) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() && !quiet {
        Box::new(Bars {
            current: Mutex::new(None),
        })
    } else {
        Box::new(Traced)
    }
}

fn style(phase: Phase, total: Option<u64>) -> ProgressStyle {
    // No estimate of the time left: over the first seconds of a phase it says nothing true
    // ("24m left" for a 10 s scan), and the counts already show how far it is.
    let template = match (total, phase.counts_bytes()) {
        (Some(_), true) => {
            "{spinner} {prefix} {binary_bytes}/{binary_total_bytes} [{elapsed}] {wide_msg}"
        }
        (Some(_), false) => "{spinner} {prefix} {pos}/{len} [{elapsed}] {wide_msg}",
        (None, _) => "{spinner} {prefix} [{elapsed}] {wide_msg}",
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress for Bars {
    fn event(&self, event: Event) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        match event {
            Event::Start {
                phase,
                total,
                detail,
            } => {
                if let Some((_, old)) = current.take() {
                    old.finish_and_clear();
                }
                let bar = match total {
                    Some(n) => ProgressBar::new(n),
                    None => ProgressBar::new_spinner(),
                };
                bar.set_style(style(phase, total));
                bar.set_prefix(phase.label());
                bar.set_message(detail);
                bar.enable_steady_tick(Duration::from_millis(120));
                *current = Some((phase, bar));
            }
            Event::Advance { phase, done, item } => {
                if let Some((p, bar)) = current.as_ref()
                    && *p == phase
                {
                    bar.inc(done);
                    if !item.is_empty() {
                        bar.set_message(item);
                    }
                }
            }
            Event::Finish { phase } => {
                if current.as_ref().is_some_and(|(p, _)| *p == phase)
                    && let Some((_, bar)) = current.take()
                {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
