//! The connection's timers: one fixed table, polled for its earliest
//! deadline (quinn's `connection/timer.rs`).

use crate::time::Instant;

/// The timers a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Time to send a keepalive Ping.
    Keepalive = 0,
    /// A keepalive Ping went unanswered.
    PongDeadline = 1,
    /// The closing handshake took too long.
    Close = 2,
    /// Nothing was received for too long.
    Idle = 3,
}

impl Timer {
    pub(crate) const ALL: [Self; 4] =
        [Self::Keepalive, Self::PongDeadline, Self::Close, Self::Idle];
}

/// Deadlines indexed by [`Timer`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 4],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 4];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Stops and returns the timers due at `now`, earliest kind first.
    pub(crate) fn expire(&mut self, now: Instant) -> [Option<Timer>; 4] {
        let mut due = [None; 4];
        for timer in Timer::ALL {
            if self.get(timer).is_some_and(|at| at <= now) {
                self.stop(timer);
                due[timer as usize] = Some(timer);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_and_expire_stops() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Close, Instant::from_millis(30));
        t.set(Timer::Keepalive, Instant::from_millis(10));
        assert_eq!(t.next(), Some(Instant::from_millis(10)));
        assert_eq!(t.expire(Instant::from_millis(9)), [None; 4]);
        let due = t.expire(Instant::from_millis(10));
        assert_eq!(due[Timer::Keepalive as usize], Some(Timer::Keepalive));
        assert_eq!(t.next(), Some(Instant::from_millis(30)));
        t.stop_all();
        assert_eq!(t.next(), None);
    }
}
