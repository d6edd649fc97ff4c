//! The machine's memory read bandwidth, measured the way decode reads weights: every
//! thread streams its share of a buffer far larger than any cache, once per pass.
//!
//! A decode step reads each weight byte once, so bandwidth divided by the weight bytes per
//! token is the most tokens per second any engine can decode on this machine: the roofline
//! the throughput figure draws.

use std::time::Instant;

use rayon::prelude::*;

/// Bytes read per pass: 1 GiB, many times the last-level cache.
pub const BUFFER_BYTES: usize = 1 << 30;

/// The best read bandwidth, in bytes per second, of `passes` passes over a
/// [`BUFFER_BYTES`] buffer on `pool`'s threads.
pub fn read_bandwidth(pool: &rayon::ThreadPool, passes: usize) -> f64 {
    pool.install(|| {
        let words = BUFFER_BYTES / size_of::<u64>();
        let mut buffer = vec![0u64; words];
        // Written (not just allocated) so every page is resident before timing.
        buffer
            .par_chunks_mut(1 << 16)
            .enumerate()
            .for_each(|(i, c)| c.fill(i as u64));
        (0..passes.max(1))
            .map(|_| {
                let started = Instant::now();
                let sum = buffer
                    .par_chunks(1 << 20)
                    .map(|c| c.iter().fold(0u64, |a, &w| a.wrapping_add(w)))
                    .reduce(|| 0, u64::wrapping_add);
                let seconds = started.elapsed().as_secs_f64();
                std::hint::black_box(sum);
                BUFFER_BYTES as f64 / seconds
            })
            .fold(0.0, f64::max)
    })
}
