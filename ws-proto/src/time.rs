//! Time as the caller tells it: a monotonic microsecond count from an
//! arbitrary epoch (smoltcp's `time::Instant`).
//!
//! `ws-proto` never reads a clock. Every input that can start or fire a timer
//! takes `now: Instant`, and [`Connection::poll_timeout`](crate::Connection::poll_timeout)
//! answers with the next deadline on the same scale.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time: microseconds since an epoch chosen by the caller.
///
/// Only differences matter, so any monotonic source works (a hardware timer,
/// `std::time::Instant` via [`StdClock`], a fake clock in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Self = Self(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// Saturates at the end of time instead of overflowing.
    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(duration_micros(rhs)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;

    /// Saturates at the epoch instead of underflowing.
    fn sub(self, rhs: Duration) -> Self {
        Self(self.0.saturating_sub(duration_micros(rhs)))
    }
}

impl Sub for Instant {
    type Output = Duration;

    /// Saturates at zero.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Converts `std::time::Instant` readings into [`Instant`]s measured from an
/// epoch fixed at construction.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    epoch: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Self {
            epoch: std::time::Instant::now(),
        }
    }

    /// A clock whose epoch is `epoch`.
    pub fn with_epoch(epoch: std::time::Instant) -> Self {
        Self { epoch }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.instant(std::time::Instant::now())
    }

    /// Converts a `std` instant (instants before the epoch map to the epoch).
    pub fn instant(&self, at: std::time::Instant) -> Instant {
        Instant(duration_micros(at.saturating_duration_since(self.epoch)))
    }

    /// Converts back to a `std` instant, for sleeping until a deadline.
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.epoch + Duration::from_micros(at.0)
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t.as_micros(), 5000);
        assert_eq!(t + Duration::from_millis(1), Instant::from_micros(6000));
        assert_eq!(t - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::ZERO, Duration::from_millis(5));
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(
            Instant::ZERO + Duration::MAX,
            Instant::from_micros(u64::MAX)
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_clock_round_trips() {
        let clock = StdClock::new();
        let later = std::time::Instant::now() + Duration::from_millis(3);
        let at = clock.instant(later);
        let back = clock.to_std(at);
        assert!(back <= later && later - back < Duration::from_micros(2));
    }
}
