//! Live mode: windows that close on the host's clock when a live stream
//! goes quiet.
//!
//! The component has no clock; its watermark moves only with event time.
//! On a quiet stream the last window would then never close and its alert
//! never leave. So when input pauses, the host advances each stream's
//! watermark by the time that has passed on its own clock since the last
//! input arrived (never *to* the wall clock). Only a stream that is live is
//! advanced: one whose watermark is within `max_lag` of the wall clock. A
//! backtest piped from last year's exports is never advanced, and so loses
//! nothing to a pause in its input. `recon detect` and `recon nats worker`
//! both run every stream's [`LiveClock`]; docs/streaming.md has the why.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default [`LiveOptions::idle`]: 5 s.
pub const DEFAULT_LIVE_IDLE: Duration = Duration::from_secs(5);
/// Default [`LiveOptions::max_lag`]: one hour (CloudTrail delivers within
/// about fifteen minutes).
pub const DEFAULT_LIVE_MAX_LAG: Duration = Duration::from_secs(3600);

/// Live mode's settings (the configuration file's `[live]` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// Input quiet for this long starts the host's clock.
    pub idle: Duration,
    /// How far behind the wall clock a watermark may be for its stream to
    /// count as live.
    pub max_lag: Duration,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            idle: DEFAULT_LIVE_IDLE,
            max_lag: DEFAULT_LIVE_MAX_LAG,
        }
    }
}

/// Live mode's step: where a stream whose watermark was `mark` when its
/// input went quiet, `quiet` ago (whole seconds), moves now; `None` for a
/// stream that is not live (its watermark further than `max_lag` behind
/// the wall clock `now_ms`: a backtest never jumps).
pub fn live_target(options: &LiveOptions, mark: i64, quiet: Duration, now_ms: i64) -> Option<i64> {
    let max_lag = options.max_lag.as_millis() as i64;
    (now_ms.saturating_sub(mark) <= max_lag).then(|| mark.saturating_add(quiet.as_millis() as i64))
}

/// This machine's clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One stream's live clock: when its input last arrived, its watermark when
/// the input paused, and the quiet time already added to it.
#[derive(Debug, Clone)]
pub struct LiveClock {
    last_input: Instant,
    /// The stream's watermark when it went idle (taken once per pause).
    paused: Option<Option<i64>>,
    /// Quiet time already added to the watermark.
    advanced: Duration,
}

impl Default for LiveClock {
    fn default() -> LiveClock {
        LiveClock::new()
    }
}

impl LiveClock {
    /// A clock whose input arrived just now.
    pub fn new() -> LiveClock {
        LiveClock {
            last_input: Instant::now(),
            paused: None,
            advanced: Duration::ZERO,
        }
    }

    /// Input arrived: the quiet time starts again from here.
    pub fn input_seen(&mut self) {
        *self = LiveClock::new();
    }

    /// Where to move the stream's watermark now, if anywhere: once input
    /// has been quiet for `options.idle`, to the watermark it had when it
    /// went idle plus the quiet time in whole seconds, each time that grows
    /// by a second; never for a stream that is not live. `watermark` is
    /// asked for the stream's watermark once per pause.
    pub fn step<E>(
        &mut self,
        options: &LiveOptions,
        watermark: impl FnOnce() -> Result<Option<i64>, E>,
    ) -> Result<Option<i64>, E> {
        let quiet = self.last_input.elapsed();
        if quiet < options.idle {
            return Ok(None);
        }
        if self.paused.is_none() {
            self.paused = Some(watermark()?);
        }
        let quiet = Duration::from_secs(quiet.as_secs());
        if quiet <= self.advanced {
            return Ok(None);
        }
        self.advanced = quiet;
        Ok(self
            .paused
            .flatten()
            .and_then(|mark| live_target(options, mark, quiet, now_ms())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_live_stream_moves_by_the_quiet_time_and_a_backtest_never() {
        let o = LiveOptions::default();
        let now = 10 * HOUR;
        let quiet = Duration::from_secs(7);
        assert_eq!(live_target(&o, now - 1000, quiet, now), Some(now + 6000));
        assert_eq!(
            live_target(&o, now - HOUR, quiet, now),
            Some(now - HOUR + 7000)
        );
        assert_eq!(live_target(&o, now - HOUR - 1, quiet, now), None);
    }

    #[test]
    fn a_clock_waits_for_idle_then_steps_once_per_whole_second() {
        let options = LiveOptions {
            idle: Duration::from_millis(1),
            max_lag: DEFAULT_LIVE_MAX_LAG,
        };
        let mut clock = LiveClock::new();
        // Not yet idle for a whole second: nothing, and the watermark is
        // asked for once.
        std::thread::sleep(Duration::from_millis(5));
        let asked = std::cell::Cell::new(0);
        let mark = now_ms();
        let watermark = || {
            asked.set(asked.get() + 1);
            Ok::<_, ()>(Some(mark))
        };
        assert_eq!(clock.step(&options, watermark), Ok(None));
        // Pretend the input paused 2.5 s ago.
        clock.last_input -= Duration::from_millis(2500);
        assert_eq!(clock.step(&options, watermark), Ok(Some(mark + 2000)));
        // The same whole second again: no second step.
        assert_eq!(clock.step(&options, watermark), Ok(None));
        assert_eq!(asked.get(), 1, "the watermark is taken once per pause");
        clock.input_seen();
        clock.last_input -= Duration::from_millis(500);
        assert_eq!(clock.step(&options, watermark), Ok(None));
        assert_eq!(asked.get(), 2, "a new pause takes the watermark again");
        // A stream with no watermark yet never moves.
        let mut empty = LiveClock::new();
        empty.last_input -= Duration::from_secs(3);
        assert_eq!(empty.step(&options, || Ok::<_, ()>(None)), Ok(None));
    }
}
