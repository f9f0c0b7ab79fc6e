//! Process-wide media-path statistics, lock-free so that recording costs a few atomic adds
//! per 20 ms frame: frames handled by call actors and the delay from the frame's arrival
//! on the socket to the end of its handling (mailbox wait + VAD + turn detection).

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Upper bounds of the delay buckets, in microseconds (the last bucket is open); fine
/// between 10 and 100 ms, where the targets are (frame delay < 20 ms, barge-in `clear`
/// < 60 ms, which waits for a second 20 ms frame of speech).
pub const DELAY_BOUNDS_US: [u64; 19] = [
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000, 60_000, 80_000,
    100_000, 250_000, 1_000_000, 5_000_000,
];

pub struct MediaStats {
    buckets: [AtomicU64; DELAY_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
    frames: AtomicU64,
    max_us: AtomicU64,
}

/// The process's media statistics.
pub static MEDIA: MediaStats = MediaStats::new();

/// Barge-in, as the server sees it: the arrival of the caller's first speech frame over the
/// agent to the `clear` handed to the stream (one sample per `clear`).
pub static BARGE_IN: MediaStats = MediaStats::new();

/// Characters of conversation the live calls hold as their LLM context (each call's share
/// bounded by its context budget): what a long call's memory grows with.
pub static CONTEXT_CHARS: AtomicU64 = AtomicU64::new(0);

/// One call's share of a total ([`CONTEXT_CHARS`]): set as its conversation changes, given
/// back when the call's actor goes.
#[derive(Debug)]
pub struct ContextShare {
    total: &'static AtomicU64,
    chars: u64,
}

impl ContextShare {
    pub const fn new(total: &'static AtomicU64) -> Self {
        Self { total, chars: 0 }
    }

    pub fn set(&mut self, chars: u64) {
        if chars >= self.chars {
            self.total.fetch_add(chars - self.chars, Relaxed);
        } else {
            self.total.fetch_sub(self.chars - chars, Relaxed);
        }
        self.chars = chars;
    }
}

impl Drop for ContextShare {
    fn drop(&mut self) {
        self.total.fetch_sub(self.chars, Relaxed);
    }
}

/// A copy of the statistics at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaSnapshot {
    /// Frames per bucket (not cumulative); the last is above every bound.
    pub buckets: Vec<u64>,
    pub sum_us: u64,
    pub frames: u64,
    pub max_us: u64,
}

impl MediaStats {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; DELAY_BOUNDS_US.len() + 1],
            sum_us: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }

    /// One frame handled `delay` after it arrived.
    pub fn record(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        let i = DELAY_BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        self.frames.fetch_add(1, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    pub fn snapshot(&self) -> MediaSnapshot {
        MediaSnapshot {
            buckets: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_us: self.sum_us.load(Relaxed),
            frames: self.frames.load(Relaxed),
            max_us: self.max_us.load(Relaxed),
        }
    }
}

impl MediaSnapshot {
    /// Frames handled between `earlier` and `self`.
    pub fn since(&self, earlier: &MediaSnapshot) -> MediaSnapshot {
        MediaSnapshot {
            buckets: self
                .buckets
                .iter()
                .zip(earlier.buckets.iter().chain(std::iter::repeat(&0)))
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
            frames: self.frames.saturating_sub(earlier.frames),
            max_us: self.max_us,
        }
    }

    /// The upper bound (µs) of the bucket holding quantile `q` (0–1): a conservative
    /// estimate, exact to the bucket.
    pub fn quantile_bound_us(&self, q: f64) -> Option<u64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(DELAY_BOUNDS_US.get(i).copied().unwrap_or(self.max_us));
            }
        }
        Some(self.max_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_shares_add_up_and_are_given_back() {
        static TOTAL: AtomicU64 = AtomicU64::new(0);
        let mut a = ContextShare::new(&TOTAL);
        let mut b = ContextShare::new(&TOTAL);
        a.set(1_000);
        b.set(300);
        assert_eq!(TOTAL.load(Relaxed), 1_300);
        a.set(400); // trimmed to its budget
        assert_eq!(TOTAL.load(Relaxed), 700);
        drop(a);
        assert_eq!(TOTAL.load(Relaxed), 300);
        drop(b);
        assert_eq!(TOTAL.load(Relaxed), 0);
    }

    #[test]
    fn delays_land_in_their_buckets_and_quantiles_read_back() {
        let s = MediaStats::new();
        for _ in 0..98 {
            s.record(Duration::from_micros(300));
        }
        s.record(Duration::from_millis(12));
        s.record(Duration::from_secs(9));
        let snap = s.snapshot();
        assert_eq!(snap.frames, 100);
        assert_eq!(snap.buckets[2], 98, "300 µs is in the ≤500 µs bucket");
        assert_eq!(snap.buckets[7], 1, "12 ms is in the ≤15 ms bucket");
        assert_eq!(*snap.buckets.last().unwrap(), 1, "beyond every bound");
        assert_eq!(snap.quantile_bound_us(0.5), Some(500));
        assert_eq!(snap.quantile_bound_us(0.99), Some(15_000));
        assert_eq!(snap.quantile_bound_us(1.0), Some(9_000_000));
        assert_eq!(snap.max_us, 9_000_000);
        let later = {
            s.record(Duration::from_micros(50));
            s.snapshot()
        };
        let diff = later.since(&snap);
        assert_eq!((diff.frames, diff.buckets[0]), (1, 1));
        assert_eq!(MediaSnapshot::default().quantile_bound_us(0.99), None);
    }
}
