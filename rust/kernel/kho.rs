// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver (KHO): memory one kernel hands to the kernel it kexecs.
//!
//! A driver that keeps a device working across kexec (an IOMMU still
//! translating a device's DMA, for example) *preserves* the memory the
//! device uses: the next kernel keeps it out of its allocator and gives it
//! back to the driver, which *restores* it at the same physical address. A
//! small record of what was preserved travels as a named *subtree*.
//!
//! KHO is active only with `kho=on` on the command line of both kernels,
//! and only when the kernel is built with `CONFIG_KEXEC_HANDOVER`; without
//! it every preservation fails with `EOPNOTSUPP` and nothing is found.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use crate::{
    bindings,
    error::{from_err_ptr, to_result, Result},
    prelude::*,
    str::CString,
    sync::atomic::{Atomic, Relaxed},
};
use core::ptr::NonNull;

/// Whether KHO is on in this kernel (`kho=on`).
pub fn is_enabled() -> bool {
    // SAFETY: No preconditions.
    unsafe { bindings::kho_enabled() }
}

/// Whether this kernel was kexec'd by one that handed memory over with KHO.
pub fn is_kho_boot() -> bool {
    // SAFETY: No preconditions.
    unsafe { bindings::kho_boot() }
}

/// Whether the shutdown in progress is that of a kexec (device `shutdown`
/// callbacks run for reboots and power-offs too): only then is anything
/// handed over.
pub fn kexec_in_progress() -> bool {
    // SAFETY: Reads a boolean the kexec path sets before shutting devices
    // down.
    unsafe { bindings::kho_kexec_in_progress() }
}

/// Preserves the whole folio at physical address `phys` (its head), so
/// that the next kernel can [`RestoredFolio::restore`] it at the same
/// address. Returns the folio's order.
///
/// # Safety
///
/// `phys` is the first byte of a folio of the linear map the caller owns
/// (an iommu-pages or `folio_alloc()` block), and the folio stays
/// allocated until the kexec or until [`unpreserve_folio`].
pub unsafe fn preserve_folio(phys: u64) -> Result<u32> {
    // SAFETY: `phys` is in the linear map (function contract).
    let virt = unsafe { bindings::kho_phys_to_virt(phys) };
    // SAFETY: `virt` is in an allocated folio (function contract).
    let ret = unsafe { bindings::kho_preserve_folio_of(virt) };
    to_result(ret)?;
    Ok(ret as u32)
}

/// Cancels [`preserve_folio`].
///
/// # Safety
///
/// The folio at `phys` was preserved with [`preserve_folio`] and is still
/// allocated.
pub unsafe fn unpreserve_folio(phys: u64) {
    // SAFETY: The folio was preserved and is allocated, in the linear map
    // (function contract).
    unsafe { bindings::kho_unpreserve_folio_of(bindings::kho_phys_to_virt(phys)) }
}

/// Reads the 64-bit word at physical address `phys` (`READ_ONCE`), for
/// walking tables a device uses, to find what to preserve.
///
/// # Safety
///
/// `phys` is 8-byte aligned, in the linear map, and in memory that stays
/// allocated during the call (a table the caller's device walks).
pub unsafe fn read_phys_u64(phys: u64) -> u64 {
    // SAFETY: `phys` is an aligned, allocated linear-map address (function
    // contract); the access is atomic, so concurrent stores are no race.
    unsafe {
        let p = bindings::kho_phys_to_virt(phys).cast::<u64>();
        Atomic::from_ptr(p).load(Relaxed)
    }
}

/// A blob of preserved memory the next kernel finds by name
/// ([`Retrieved::find`]).
///
/// Dropping it withdraws and frees it. [`Self::hand_over`] keeps it for
/// the next kernel instead.
///
/// # Invariants
///
/// `mem` is `len` bytes from `kho_alloc_preserve()`, owned by `self`; it is
/// published under `name` iff `published`.
pub struct Subtree {
    mem: NonNull<u8>,
    len: usize,
    name: CString,
    published: bool,
}

// SAFETY: `Subtree` owns its memory; KHO's calls are thread-safe.
unsafe impl Send for Subtree {}

impl Subtree {
    /// Allocates `len` zeroed, preserved bytes to be published as `name`.
    pub fn new(name: &CStr, len: usize) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("{name}"))?;
        // SAFETY: No preconditions; an error pointer is returned on failure.
        let mem = from_err_ptr(unsafe { bindings::kho_alloc_preserved(len) })?;
        let mem = NonNull::new(mem.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: just allocated, not published.
        Ok(Self {
            mem,
            len,
            name,
            published: false,
        })
    }

    /// The blob, to be written before it is published.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `mem` is `len` bytes owned by `self` (type invariant), and
        // `&mut self` excludes any other access from this side.
        unsafe { core::slice::from_raw_parts_mut(self.mem.as_ptr(), self.len) }
    }

    /// Publishes the blob: the next kernel finds it under its name.
    pub fn publish(&mut self) -> Result {
        if self.published {
            return Ok(());
        }
        // SAFETY: `name` is a valid C string kept alive by `self`; `mem` is
        // `len` bytes of preserved memory (type invariant).
        to_result(unsafe {
            bindings::kho_add_named(self.name.as_char_ptr(), self.mem.as_ptr().cast(), self.len)
        })?;
        self.published = true;
        Ok(())
    }

    /// Leaves the blob to the next kernel: it is neither withdrawn nor
    /// freed in this one, which is about to kexec.
    pub fn hand_over(self) {
        core::mem::forget(self);
    }
}

impl Drop for Subtree {
    fn drop(&mut self) {
        if self.published {
            // SAFETY: The blob was published (type invariant).
            unsafe { bindings::kho_remove_named(self.mem.as_ptr().cast()) };
        }
        // SAFETY: `mem` came from `kho_alloc_preserve()` and is no longer
        // published.
        unsafe { bindings::kho_unpreserve_and_free(self.mem.as_ptr().cast()) };
    }
}

/// A blob the previous kernel published under a name.
///
/// # Invariants
///
/// `mem` is the linear-map address of `len` bytes the previous kernel
/// allocated with `kho_alloc_preserve()`, now owned by `self`.
pub struct Retrieved {
    mem: NonNull<u8>,
    len: usize,
}

// SAFETY: `Retrieved` owns its memory.
unsafe impl Send for Retrieved {}
// SAFETY: `&Retrieved` only reads.
unsafe impl Sync for Retrieved {}

impl Retrieved {
    /// The blob published as `name` by the previous kernel: `ENOENT` if
    /// there is none, `EOPNOTSUPP` without KHO.
    pub fn find(name: &CStr) -> Result<Self> {
        let mut phys: bindings::phys_addr_t = 0;
        let mut len: usize = 0;
        // SAFETY: `name` is a valid C string; the out pointers are valid.
        to_result(unsafe { bindings::kho_find_named(name.as_char_ptr(), &mut phys, &mut len) })?;
        // SAFETY: KHO keeps the blob's pages reserved in the linear map.
        let mem = unsafe { bindings::kho_phys_to_virt(phys) };
        let mem = NonNull::new(mem.cast::<u8>()).ok_or(EINVAL)?;
        // INVARIANT: the blob of `len` bytes at `phys`, handed to us.
        Ok(Self { mem, len })
    }

    /// The blob's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `mem` is `len` readable bytes owned by `self` (type
        // invariant); nothing writes them.
        unsafe { core::slice::from_raw_parts(self.mem.as_ptr(), self.len) }
    }
}

impl Drop for Retrieved {
    fn drop(&mut self) {
        // SAFETY: The memory came from the previous kernel's
        // `kho_alloc_preserve()` and is owned by `self` (type invariant).
        unsafe { bindings::kho_free_restored(self.mem.as_ptr().cast()) };
    }
}

/// A folio the previous kernel preserved with [`preserve_folio`], restored
/// in this one: memory a device may still be reading (a table an IOMMU
/// walks). Every access is a single-copy-atomic 64-bit load or store.
/// Freed (`folio_put()`) on drop.
///
/// # Invariants
///
/// `virt` is the linear-map address of a restored folio of `size` bytes
/// (a multiple of 8), owned by `self`.
pub struct RestoredFolio {
    virt: NonNull<u64>,
    size: usize,
}

// SAFETY: `RestoredFolio` owns its folio and all accesses are atomic.
unsafe impl Send for RestoredFolio {}
// SAFETY: Every access through `&RestoredFolio` is an atomic 64-bit access.
unsafe impl Sync for RestoredFolio {}

impl RestoredFolio {
    /// Restores the folio preserved at `phys`; `None` if nothing was
    /// preserved there (KHO checks the folio's preservation record, so an
    /// arbitrary address is refused, not trusted).
    pub fn restore(phys: u64) -> Option<Self> {
        let mut size: usize = 0;
        // SAFETY: The out pointer is valid; KHO validates `phys`.
        let virt = unsafe { bindings::kho_restore_folio_virt(phys, &mut size) };
        // INVARIANT: a restored folio, owned by us; folio sizes are whole
        // pages.
        NonNull::new(virt.cast::<u64>()).map(|virt| Self { virt, size })
    }

    /// Physical address of the folio.
    pub fn phys(&self) -> u64 {
        // SAFETY: `virt` is a linear-map address.
        unsafe { bindings::virt_to_phys(self.virt.as_ptr().cast()) }
    }

    /// Size of the folio in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    fn word(&self, idx: usize) -> Result<&Atomic<u64>> {
        if idx >= self.size / 8 {
            return Err(EINVAL);
        }
        // SAFETY: `idx` is in bounds, so the pointer is aligned and valid
        // while `self` lives; CPU accesses are all atomic, the device's are
        // DMA, outside the memory model.
        Ok(unsafe { Atomic::from_ptr(self.virt.as_ptr().add(idx)) })
    }

    /// Reads qword `idx` (`READ_ONCE`); `EINVAL` if out of bounds.
    pub fn read_u64(&self, idx: usize) -> Result<u64> {
        Ok(self.word(idx)?.load(Relaxed))
    }

    /// Writes qword `idx` with one single-copy-atomic store; `EINVAL` if
    /// out of bounds.
    pub fn write_u64(&self, idx: usize, val: u64) -> Result {
        self.word(idx)?.store(val, Relaxed);
        Ok(())
    }
}

impl Drop for RestoredFolio {
    fn drop(&mut self) {
        // SAFETY: `virt` is a restored folio owned by `self` (type
        // invariant), holding the one reference `kho_restore_folio()` gave.
        unsafe { bindings::kho_put_folio_of(self.virt.as_ptr().cast()) }
    }
}
