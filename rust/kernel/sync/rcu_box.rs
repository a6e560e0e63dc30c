// SPDX-License-Identifier: GPL-2.0

//! An RCU-published owned value: readers dereference it under
//! [`rcu::read_lock()`](super::rcu::read_lock) without any lock, an update
//! publishes a new value (`rcu_assign_pointer()`) and frees the old one
//! after a grace period (`call_rcu()`).
//!
//! This is the pattern of `struct arm_smmu_invs` (an array read by every
//! invalidation, replaced on attach/detach) and of many other read-mostly
//! C structures.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::{
    alloc::Flags,
    bindings,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        rcu,
    },
    types::Opaque,
};

/// One published value, with the `rcu_head` that frees it.
#[repr(C)]
struct Node<T> {
    head: Opaque<bindings::callback_head>,
    val: T,
}

/// An owned `T` that readers access under the RCU read lock while writers
/// replace it.
///
/// Writers need no lock to be memory safe, as [`RcuBox::replace`] swaps the
/// pointer atomically and each old value is freed exactly once, after every
/// reader that could see it has left its read-side critical section.
/// Callers that compute the new value from the old one serialise their
/// updates themselves (e.g. with a mutex), as C callers of
/// `rcu_assign_pointer()` do.
///
/// # Contract
///
/// - Replaced values are dropped from an RCU callback, in softirq context on
///   any CPU: `T` must be `Send` (enforced), own no borrowed data (`T:
///   'static`, enforced), and its `Drop` must not sleep (not enforced: plain
///   data and kernel allocations are fine; a mutex or a sleeping free is
///   not).
/// - That callback is code of the module that instantiated `RcuBox<T>`: a
///   module that publishes values must wait for pending callbacks with
///   [`rcu_barrier()`](super::rcu::rcu_barrier) before it can be unloaded
///   (in its exit path, or when the last user of its boxes goes away),
///   otherwise the callback runs freed module text. Dropping an `RcuBox`
///   itself frees its current value at once and queues nothing.
///
/// # Invariants
///
/// `ptr` always points to a valid `Node<T>` allocated by `KBox` and owned
/// by this object; nodes replaced by [`RcuBox::replace`] are owned by a
/// pending `call_rcu()` callback.
///
/// # Examples
///
/// ```
/// use kernel::sync::{rcu, rcu_box::RcuBox};
///
/// let b = RcuBox::new(1u64, GFP_KERNEL)?;
/// {
///     let g = rcu::read_lock();
///     assert_eq!(*b.read(&g), 1);
/// }
/// b.replace(2, GFP_KERNEL)?;
/// let g = rcu::read_lock();
/// assert_eq!(*b.read(&g), 2);
/// # Ok::<(), Error>(())
/// ```
pub struct RcuBox<T: Send + Sync + 'static> {
    ptr: Atomic<*mut Node<T>>,
}

// SAFETY: `RcuBox<T>` owns a `T`, which is `Send`; the old values are freed by
// an RCU callback on another CPU, which `T: Send` allows.
unsafe impl<T: Send + Sync + 'static> Send for RcuBox<T> {}
// SAFETY: Shared access gives `&T` to readers (`T: Sync`) and moves values in
// and out of the box (`T: Send`); the pointer is an atomic.
unsafe impl<T: Send + Sync + 'static> Sync for RcuBox<T> {}

impl<T: Send + Sync + 'static> RcuBox<T> {
    fn alloc(val: T, flags: Flags) -> Result<*mut Node<T>> {
        let node = KBox::new(
            Node {
                head: Opaque::uninit(),
                val,
            },
            flags,
        )?;
        Ok(KBox::into_raw(node))
    }

    /// Publishes `val` as the first value.
    pub fn new(val: T, flags: Flags) -> Result<Self> {
        // INVARIANT: A fresh `KBox` allocation owned by the new object.
        Ok(Self {
            ptr: Atomic::new(Self::alloc(val, flags)?),
        })
    }

    /// The current value, valid until the RCU read lock `_guard` is dropped
    /// (`rcu_dereference()`).
    pub fn read<'a>(&'a self, _guard: &'a rcu::Guard) -> &'a T {
        // Acquire pairs with the release in `replace`: the new value's
        // contents are visible before its address.
        let p = self.ptr.load(Acquire);
        // `p` is freed only by `Drop` (no `&'a self` borrow is alive then) or
        // by the `call_rcu()` callback of a `publish`, after a grace period
        // that `_guard`'s read-side critical section holds up.
        // SAFETY: So `p`, valid by the type invariant, outlives `'a`.
        unsafe { &(*p).val }
    }

    /// Publishes `val` (`rcu_assign_pointer()`) and frees the previous value
    /// once every current reader is done with it (`call_rcu()`). Allocates
    /// with `flags` (so it may sleep if they allow it, and must then not be
    /// called in an RCU read-side critical section); fails only if `val`
    /// cannot be allocated, leaving the current value in place.
    pub fn replace(&self, val: T, flags: Flags) -> Result {
        self.publish(Self::prepare(val, flags)?);
        Ok(())
    }

    /// Allocates `val` for a later [`RcuBox::publish`], which then cannot
    /// fail: an update that must not fail halfway prepares every value
    /// first.
    pub fn prepare(val: T, flags: Flags) -> Result<RcuNew<T>> {
        Ok(RcuNew(Self::alloc(val, flags)?))
    }

    /// Publishes a prepared value, as [`RcuBox::replace`] does.
    pub fn publish(&self, new: RcuNew<T>) {
        let new = core::mem::ManuallyDrop::new(new).0;
        // INVARIANT: `new` is a valid node, now owned by `self`; the old one
        // is handed to `call_rcu()` below.
        let old = self.ptr.xchg(new, Release);
        // `old` is no longer reachable through `self.ptr`; readers that loaded
        // it are in RCU read-side critical sections, which `call_rcu()` waits
        // for before calling `free_node`, the only user of the head.
        // SAFETY: `old` was a valid node owned by `self` (type invariant).
        unsafe {
            bindings::call_rcu(
                Opaque::cast_into(&raw const (*old).head),
                Some(free_node::<T>),
            )
        };
    }
}

/// A value allocated by [`RcuBox::prepare`], not yet published; freed if
/// dropped.
///
/// # Invariants
///
/// `self.0` is a valid node allocated by `KBox` and owned by this object.
pub struct RcuNew<T: Send + Sync + 'static>(*mut Node<T>);

// SAFETY: Owns a `T: Send`.
unsafe impl<T: Send + Sync + 'static> Send for RcuNew<T> {}

impl<T: Send + Sync + 'static> RcuNew<T> {
    /// The value to be published.
    pub fn get(&self) -> &T {
        // SAFETY: By the type invariant the node is valid and owned by us.
        unsafe { &(*self.0).val }
    }
}

impl<T: Send + Sync + 'static> Drop for RcuNew<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the node is ours and unpublished.
        drop(unsafe { KBox::from_raw(self.0) });
    }
}

/// Frees a node replaced by [`RcuBox::replace`].
///
/// # Safety
///
/// `head` is the `head` field of a `Node<T>` allocated by `KBox` and handed to
/// `call_rcu()` by `replace`.
unsafe extern "C" fn free_node<T>(head: *mut bindings::callback_head) {
    // CAST: `Node<T>` is `repr(C)` with `head` first (an `Opaque` is
    // `repr(transparent)`), so the head's address is the node's.
    let node = head.cast::<Node<T>>();
    // SAFETY: By the function's safety requirement the node came from
    // `KBox::into_raw()` and this callback is its only owner.
    drop(unsafe { KBox::from_raw(node) });
}

impl<T: Send + Sync + 'static> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = self.ptr.load(Acquire);
        // SAFETY: By the type invariant `p` is a node owned by `self`; no
        // reader borrows `self` any more (`&mut self`), and replaced nodes
        // are freed by their own callbacks.
        drop(unsafe { KBox::from_raw(p) });
    }
}

#[macros::kunit_tests(rust_kernel_rcu_box)]
mod tests {
    use super::*;
    use crate::sync::atomic::Relaxed;

    static DROPS: Atomic<u32> = Atomic::new(0);

    struct Counted(u32);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.add(1, Relaxed);
        }
    }

    fn drops() -> u32 {
        DROPS.load(Relaxed)
    }

    #[test]
    fn old_values_outlive_their_readers() -> Result {
        let start = drops();
        let b = RcuBox::new(Counted(1), GFP_KERNEL)?;
        // Allocated before the read-side critical section, where sleeping
        // is not allowed.
        let new = RcuBox::prepare(Counted(2), GFP_KERNEL)?;
        {
            let g = rcu::read_lock();
            let old = b.read(&g);
            b.publish(new);
            // A reader that loaded the old value keeps it until it unlocks;
            // new readers see the new one.
            assert_eq!(old.0, 1);
            assert_eq!(b.read(&g).0, 2);
            assert_eq!(drops() - start, 0);
        }
        // The old value goes after a grace period.
        rcu::rcu_barrier();
        assert_eq!(drops() - start, 1);
        Ok(())
    }

    #[test]
    fn prepared_values_publish_or_free() -> Result {
        let start = drops();
        let b = RcuBox::new(Counted(1), GFP_KERNEL)?;
        let unused = RcuBox::prepare(Counted(2), GFP_KERNEL)?;
        assert_eq!(unused.get().0, 2);
        drop(unused);
        assert_eq!(drops() - start, 1);
        b.publish(RcuBox::prepare(Counted(3), GFP_KERNEL)?);
        {
            let g = rcu::read_lock();
            assert_eq!(b.read(&g).0, 3);
        }
        // Dropping the box frees the current value at once, the replaced
        // one after the grace period.
        drop(b);
        rcu::rcu_barrier();
        assert_eq!(drops() - start, 3);
        Ok(())
    }
}
