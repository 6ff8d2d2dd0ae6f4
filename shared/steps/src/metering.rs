//! Which function a piece of work belongs to, for counting what one video costs: every step
//! and the provider worker run inside [`in_function`], so an adapter that counts its calls
//! (`viral bench cost`) can tell whose they are ([`current_function`]), and an observer set
//! once per process hears how long each invocation took. Lambdas set no observer: then this
//! is a task-local and nothing else.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Hears each invocation's function and wall time.
pub type Observer = Box<dyn Fn(&'static str, Duration) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Sets the process's observer; false if one was already set.
pub fn observe(observer: Observer) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// The function (a `functions/` crate name) whose work the current task is doing.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

/// Runs `work` as an invocation of `function`.
pub async fn in_function<F: Future>(function: &'static str, work: F) -> F::Output {
    FUNCTION
        .scope(function, async move {
            let started = Instant::now();
            let out = work.await;
            if let Some(observer) = OBSERVER.get() {
                observer(function, started.elapsed());
            }
            out
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_function_is_known_inside_only() {
        assert_eq!(current_function(), None);
        let inner = in_function("plan-job", async {
            tokio::task::yield_now().await;
            current_function()
        })
        .await;
        assert_eq!(inner, Some("plan-job"));
        assert_eq!(current_function(), None);
    }
}
