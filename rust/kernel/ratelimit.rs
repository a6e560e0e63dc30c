// SPDX-License-Identifier: GPL-2.0

//! Rate limits for messages.
//!
//! C header: [`include/linux/ratelimit.h`](srctree/include/linux/ratelimit.h)

use crate::{
    bindings,
    prelude::*,
    str::CStr,
    time::{msecs_to_jiffies, Msecs},
    types::Opaque,
};

/// A rate limit: at most `burst` events per interval
/// (`struct ratelimit_state`), as `printk_ratelimited()` and
/// `dev_err_ratelimited()` use.
///
/// When an interval in which events were refused ends, the next
/// [`RateLimit::allow`] logs `"<name>: <n> callbacks suppressed"`, as C's
/// `__ratelimit()` does.
///
/// # Invariants
///
/// `state` was initialised by `ratelimit_state_init()`.
///
/// # Examples
///
/// ```
/// use kernel::ratelimit::RateLimit;
///
/// let rl = KBox::pin_init(RateLimit::new(60_000, 2), GFP_KERNEL)?;
/// assert!(rl.allow(c"doctest"));
/// assert!(rl.allow(c"doctest"));
/// // A third event within the minute is refused.
/// assert!(!rl.allow(c"doctest"));
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct RateLimit {
    #[pin]
    state: Opaque<bindings::ratelimit_state>,
}

// SAFETY: `struct ratelimit_state` may move between threads: it holds no
// reference to the thread that initialised it.
unsafe impl Send for RateLimit {}
// SAFETY: `___ratelimit()` takes the state's own raw spinlock, so it may be
// called on one state from several threads at once, in any context.
unsafe impl Sync for RateLimit {}

impl RateLimit {
    /// The printk defaults: 10 events per 5 seconds
    /// (`DEFAULT_RATELIMIT_BURST`, `DEFAULT_RATELIMIT_INTERVAL`).
    pub fn new_default() -> impl PinInit<Self> {
        Self::new(5000, 10)
    }

    /// At most `burst` events per `interval_ms` milliseconds.
    pub fn new(interval_ms: Msecs, burst: u32) -> impl PinInit<Self> {
        let interval = i32::try_from(msecs_to_jiffies(interval_ms)).unwrap_or(i32::MAX);
        let burst = i32::try_from(burst).unwrap_or(i32::MAX);
        pin_init!(Self {
            state <- Opaque::ffi_init(move |slot: *mut bindings::ratelimit_state| {
                // SAFETY: `slot` is valid for writes of a state, which
                // `ratelimit_state_init()` initialises whole (memset, then
                // the lock and the limits) without reading it first.
                unsafe { bindings::ratelimit_state_init(slot, interval, burst) }
            }),
        })
    }

    /// Whether an event may be reported now (`__ratelimit()`); `name`
    /// names the caller in the "callbacks suppressed" message.
    pub fn allow(&self, name: &CStr) -> bool {
        // SAFETY: By the type invariant `state` is initialised; `name` is a
        // NUL-terminated string that outlives the call, which only prints it.
        unsafe { bindings::___ratelimit(self.state.get(), name.as_char_ptr()) != 0 }
    }
}
