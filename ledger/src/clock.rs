//! The clock the sequencer reads round ages from, injected so that tests drive time by hand.
//!
//! Only the sequencer's round timing depends on time; nothing that is stored or signed does
//! (checkpoints carry no timestamp).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A future that completes at a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A monotonic clock with sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// A future that completes once [`now`](Self::now) has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;
}

/// The real clock: `std::time::Instant` and tokio timers. Needs a tokio runtime with time.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A clock that moves only when told to: time never passes by itself, so a test can show that
/// a round ran because of its size, or ran exactly when its age was reached, without timing.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<Instant>,
}

impl ManualClock {
    /// A clock standing at an arbitrary instant.
    pub fn new() -> Self {
        Self {
            now: watch::Sender::new(Instant::now()),
        }
    }

    /// Moves the clock forward, waking every sleeper whose deadline has come.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|t| *t += by);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, then every change. It fails only when
            // the clock is dropped: then time stops for good and the sleep never ends.
            if rx.wait_for(|now| *now >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_ends_only_when_advanced_past_the_deadline() {
        let clock = ManualClock::new();
        let deadline = clock.now() + Duration::from_millis(100);
        let sleeper = tokio::spawn(clock.sleep_until(deadline));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(99));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_millis(1));
        sleeper.await.unwrap();
        // A deadline already passed completes at once.
        clock.sleep_until(deadline).await;
    }
}
