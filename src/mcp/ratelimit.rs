//! A sliding-window limit on tool calls per minute, owned by the reader thread
//! (so it needs no lock). Protocol requests never pass through it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    per_minute: usize,
    recent: VecDeque<Instant>,
}

impl RateLimiter {
    /// 0 turns the limit off.
    pub fn per_minute(n: u32) -> RateLimiter {
        RateLimiter {
            per_minute: n as usize,
            recent: VecDeque::new(),
        }
    }

    /// Takes a slot, or says how long until one frees up.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < self.per_minute {
            self.recent.push_back(now);
            return Ok(());
        }
        let oldest = self.recent.front().copied().unwrap_or(now);
        Err(WINDOW.saturating_sub(now.duration_since(oldest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_n_per_window_then_says_when() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::per_minute(3);
        for i in 0..3 {
            assert!(rl.try_acquire(t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = rl
            .try_acquire(t0 + Duration::from_secs(10))
            .expect_err("limited");
        assert_eq!(wait, Duration::from_secs(50));
        assert!(rl.try_acquire(t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn zero_is_off() {
        let mut rl = RateLimiter::per_minute(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| rl.try_acquire(t0).is_ok()));
    }
}
