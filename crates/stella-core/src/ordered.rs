//! Work on many items beside the thread that uses the results, results used in the items' order.
//!
//! [`map_in_order`] runs `map` over a slice on worker threads while the calling thread consumes
//! the results one by one, in the slice's order, so that, e.g., documents are parsed ahead while
//! the caller merges the one before. Each worker is at most one result ahead of the consumer, so
//! at most twice as many results as workers are held at once, whatever the slice's length.
//!
//! What this module does not own: what is mapped or consumed, or any pool of threads kept
//! between calls (the workers live for one call).

use std::sync::mpsc;
use std::thread;

/// How many worker threads [`map_in_order`] starts: one less than the CPUs available (the
/// caller's thread consumes beside them), at least one.
pub fn default_workers() -> usize {
    available_cpus().saturating_sub(1).max(1)
}

/// Applies `map` to every item of `items` on [`default_workers`] threads and hands each result
/// to `consume` on the calling thread, in the order of `items`.
///
/// With one CPU, or one item, everything runs on the calling thread. When `consume` fails, the
/// workers stop after the item they are on and its error is returned; the items after it are
/// not consumed.
///
/// # Errors
/// The first error `consume` returns.
///
/// # Panics
/// A panic in `map` is raised again on the calling thread.
pub fn map_in_order<'a, T, R, E>(
    items: &'a [T],
    map: impl Fn(&'a T) -> R + Sync,
    consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    map_in_order_with(items, default_workers(), map, consume)
}

/// [`map_in_order`] with `workers` worker threads (0 runs everything on the calling thread).
///
/// # Errors
/// The first error `consume` returns.
///
/// # Panics
/// A panic in `map` is raised again on the calling thread.
pub fn map_in_order_with<'a, T, R, E>(
    items: &'a [T],
    workers: usize,
    map: impl Fn(&'a T) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    let workers = workers.min(items.len());
    if workers == 0 || items.len() < 2 || available_cpus() < 2 {
        return items.iter().try_for_each(|item| consume(map(item)));
    }
    let map = &map;
    thread::scope(|scope| {
        // Worker `w` maps items w, w + workers, …; each has its own channel of one slot, so the
        // consumer reads the channels in turn and gets the items back in order.
        let receivers: Vec<mpsc::Receiver<R>> = (0..workers)
            .map(|w| {
                let (sender, receiver) = mpsc::sync_channel(1);
                scope.spawn(move || {
                    for item in items.iter().skip(w).step_by(workers) {
                        // A closed channel: the consumer stopped.
                        if sender.send(map(item)).is_err() {
                            break;
                        }
                    }
                });
                receiver
            })
            .collect();
        drain(&receivers, items.len(), &mut consume)
        // The receivers are dropped here, before the scope joins the workers, so a worker
        // blocked on a full channel wakes with an error and ends.
    })
}

/// Receives `count` results from `receivers` in turn and consumes them; stops at the first
/// error, or when a worker ended without its result (it panicked: the scope raises it).
fn drain<R, E>(
    receivers: &[mpsc::Receiver<R>],
    count: usize,
    consume: &mut impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    for (_, receiver) in (0..count).zip(receivers.iter().cycle()) {
        match receiver.recv() {
            Ok(result) => consume(result)?,
            Err(mpsc::RecvError) => break,
        }
    }
    Ok(())
}

fn available_cpus() -> usize {
    thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_are_consumed_in_order_whatever_the_workers() {
        let items: Vec<u64> = (0..1000).collect();
        for workers in [0, 1, 2, 3, 7, 2000] {
            let mut seen = Vec::new();
            let done: Result<(), ()> = map_in_order_with(
                &items,
                workers,
                |i| i * 3,
                |r| {
                    seen.push(r);
                    Ok(())
                },
            );
            assert_eq!(done, Ok(()));
            assert_eq!(seen, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_failing_consumer_stops_the_workers() {
        let items: Vec<usize> = (0..10_000).collect();
        let mapped = AtomicUsize::new(0);
        let mut consumed = 0;
        let done = map_in_order_with(
            &items,
            3,
            |&i| {
                mapped.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i| {
                consumed += 1;
                if i == 10 {
                    Err(format!("item {i}"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(done, Err("item 10".to_owned()));
        assert_eq!(consumed, 11);
        // Each worker is at most its slot and the item in hand ahead of the consumer.
        assert!(mapped.load(Ordering::Relaxed) <= 11 + 3 * 2, "{mapped:?}");
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let items: Vec<usize> = (0..100).collect();
        let outcome = std::panic::catch_unwind(|| {
            map_in_order_with(
                &items,
                2,
                |&i| {
                    assert!(i != 50, "item 50 refused");
                    i
                },
                |_| Ok::<(), ()>(()),
            )
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn nothing_and_one_item() {
        let none: [u8; 0] = [];
        assert_eq!(map_in_order(&none, |_| 1, |_: i32| Err(())), Ok(()));
        let mut got = None;
        assert_eq!(
            map_in_order(
                &[5],
                |i| i + 1,
                |r| {
                    got = Some(r);
                    Ok::<(), ()>(())
                }
            ),
            Ok(())
        );
        assert_eq!(got, Some(6));
    }
}
