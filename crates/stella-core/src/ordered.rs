//! Work on many items beside the thread that uses the results, results used in the items' order.
//!
//! [`map_in_order`] runs `map` over a slice on worker threads while the calling thread consumes
//! the results one by one, in the slice's order, so that, e.g., documents are parsed ahead while
//! the caller merges the one before. Items are mapped in order, each by whichever thread is free:
//! when the next result is not ready, the calling thread maps an item itself instead of waiting,
//! so the CPUs stay busy whether mapping or consuming is the heavier work. At most a window of
//! twice as many results as threads is held at once, whatever the slice's length.
//!
//! What this module does not own: what is mapped or consumed, or any pool of threads kept
//! between calls (the workers live for one call).

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// How many worker threads [`map_in_order`] starts: one less than the CPUs available (the
/// caller's thread consumes, and maps, beside them), at least one.
pub fn default_workers() -> usize {
    available_cpus().saturating_sub(1).max(1)
}

/// Applies `map` to every item of `items` on [`default_workers`] threads and the calling thread,
/// and hands each result to `consume` on the calling thread, in the order of `items`.
///
/// With one CPU, or one item, everything runs on the calling thread. When `consume` fails, the
/// workers stop after the item they are on and its error is returned; the items after it are
/// not consumed.
///
/// # Errors
/// The first error `consume` returns.
///
/// # Panics
/// A panic in `map` or `consume` is raised again on the calling thread.
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
/// A panic in `map` or `consume` is raised again on the calling thread.
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
    let shared = Shared {
        state: Mutex::new(State {
            next: 0,
            consumed: 0,
            window: VecDeque::from_iter(std::iter::repeat_with(|| None).take(2 * (workers + 1))),
            stop: false,
        }),
        changed: Condvar::new(),
    };
    let (shared, map) = (&shared, &map);
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(move || work(items, map, shared));
        }
        // Whatever way the caller leaves (an error, a panic in `consume`), the workers are told
        // to stop before the scope joins them.
        let _stop = StopOnDrop(shared);
        drain(items, map, &mut consume, shared)
    })
}

/// What the threads share: the next item to claim and the results not yet consumed.
struct Shared<R> {
    state: Mutex<State<R>>,
    /// Signalled when a result is stored, one is consumed, or the work stops.
    changed: Condvar,
}

struct State<R> {
    /// The next item no thread has claimed.
    next: usize,
    /// How many results were handed to the consumer.
    consumed: usize,
    /// The results of items `consumed..consumed + window.len()`, as they arrive.
    window: VecDeque<Option<R>>,
    /// The consumer is done (or failed), or a mapping panicked: nothing more is claimed.
    stop: bool,
}

impl<R> State<R> {
    /// Claims the next item when it is within the window.
    fn claim(&mut self, count: usize) -> Option<usize> {
        let i = self.next;
        (!self.stop && i < count && i < self.consumed + self.window.len()).then(|| {
            self.next += 1;
            i
        })
    }

    fn store(&mut self, i: usize, result: R) {
        if let Some(slot) = self.window.get_mut(i - self.consumed) {
            *slot = Some(result);
        }
    }
}

impl<R> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        // A thread that panicked while holding the lock left the state whole (every change
        // under it is a single assignment): carry on, the panic is raised at the join.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, guard: MutexGuard<'g, State<R>>) -> MutexGuard<'g, State<R>> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Tells the workers to stop when dropped.
struct StopOnDrop<'s, R>(&'s Shared<R>);

impl<R> Drop for StopOnDrop<'_, R> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A worker: claims the next item within the window, maps it, stores the result; waits while
/// the window is full; ends when the work stops or every item is claimed.
fn work<'a, T, R>(items: &'a [T], map: &(impl Fn(&'a T) -> R + Sync), shared: &Shared<R>) {
    let mut state = shared.lock();
    loop {
        if state.stop || state.next >= items.len() {
            return;
        }
        let Some(i) = state.claim(items.len()) else {
            state = shared.wait(state);
            continue;
        };
        drop(state);
        let result = panic::catch_unwind(AssertUnwindSafe(|| map(&items[i])));
        state = shared.lock();
        match result {
            Ok(result) => state.store(i, result),
            Err(payload) => {
                state.stop = true;
                drop(state);
                shared.changed.notify_all();
                panic::resume_unwind(payload);
            }
        }
        shared.changed.notify_all();
    }
}

/// The consumer: takes the results in order; while the next one is not ready, maps the next
/// unclaimed item itself, or waits. Stops at the first error, or when a worker's mapping
/// panicked (the scope raises it).
fn drain<'a, T, R, E>(
    items: &'a [T],
    map: &(impl Fn(&'a T) -> R + Sync),
    consume: &mut impl FnMut(R) -> Result<(), E>,
    shared: &Shared<R>,
) -> Result<(), E> {
    let mut state = shared.lock();
    while state.consumed < items.len() {
        if let Some(result) = state.window.front_mut().and_then(Option::take) {
            state.window.rotate_left(1);
            state.consumed += 1;
            drop(state);
            shared.changed.notify_all();
            consume(result)?;
            state = shared.lock();
        } else if state.stop {
            break;
        } else if let Some(i) = state.claim(items.len()) {
            drop(state);
            let result = map(&items[i]);
            state = shared.lock();
            state.store(i, result);
        } else {
            state = shared.wait(state);
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
        // No item is claimed beyond the window (twice the threads) past the consumer.
        assert!(mapped.load(Ordering::Relaxed) <= 11 + 2 * 4, "{mapped:?}");
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
    fn a_panic_in_the_consumer_stops_the_workers_and_reaches_the_caller() {
        let items: Vec<usize> = (0..10_000).collect();
        let outcome = std::panic::catch_unwind(|| {
            map_in_order_with(
                &items,
                3,
                |&i| i,
                |i| {
                    assert!(i != 5, "item 5 refused");
                    Ok::<(), ()>(())
                },
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
