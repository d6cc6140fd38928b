//! The generator's random numbers: a fixed, hand-written algorithm so that
//! a seed produces the same bytes on every platform and in every version of
//! this crate (no dependency whose algorithm may change).
//!
//! * [`SplitMix64`] (Steele, Lea and Flood, 2014) expands a `u64` seed into
//!   the state of the main generator.
//! * [`Rng`] is xoshiro256** (Blackman and Vigna, 2018): fast, 256 bits of
//!   state, good statistical quality.
//!
//! Derived values use only integer arithmetic and exactly-rounded IEEE
//! multiplication, never `ln`/`exp` (whose last bit may differ between
//! platform math libraries).

/// SplitMix64, used to seed [`Rng`].
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256**.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// An independent stream for `(seed, stream)`.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut sm = SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut s = [0u64; 4];
        for x in &mut s {
            *x = sm.next_u64();
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (multiply-shift; `0` when `n == 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index in `0..n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// True with probability `percent`/100.
    pub(crate) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a slice the caller knows is not empty.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }
}

/// A weighted choice over `0..weights.len()`, by cumulative weights.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    pub(crate) fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// An index, drawn by weight; `None` when every weight is zero.
    pub(crate) fn sample(&self, rng: &mut Rng) -> Option<usize> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let r = rng.below(total);
        Some(self.cumulative.partition_point(|&c| c <= r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_never_change() {
        // Pinned outputs: changing the algorithm changes every generated file.
        let mut sm = SplitMix64::new(0);
        assert_eq!(sm.next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut r = Rng::new(1, 0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Rng::new(1, 0);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, {
            let mut other = Rng::new(1, 1);
            (0..3).map(|_| other.next_u64()).collect::<Vec<_>>()
        });
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut r = Rng::new(7, 7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            assert!((3..=5).contains(&r.range(3, 5)));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.below(0), 0);
        let w = Weighted::new([0, 5, 0, 5]);
        for _ in 0..1000 {
            let i = w.sample(&mut r).unwrap();
            assert!(i == 1 || i == 3);
        }
        assert_eq!(Weighted::new([0, 0]).sample(&mut r), None);
    }
}
