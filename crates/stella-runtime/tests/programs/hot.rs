//! A Rust process with a known hot function, for the sampler tests.
//! Usage: hot-rs SECONDS
use std::hint::black_box;
use std::time::{Duration, Instant};

#[inline(never)]
fn hot_loop(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = black_box(acc.wrapping_add(i.wrapping_mul(2_654_435_761)));
    }
    acc
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut sink = 0u64;
    while Instant::now() < end {
        sink = sink.wrapping_add(hot_loop(black_box(2_000_000)));
    }
    println!("{}", sink & 1);
}
