// SPDX-License-Identifier: GPL-2.0

//! MSIs of platform devices (`platform_device_msi_init_and_alloc_irqs()`).
//!
//! A platform device that signals its interrupts with message writes (an
//! SMMU without wired interrupts, for example) gets its vectors from the MSI
//! controller its firmware names (the `msi-parent` of a device tree node,
//! the IORT ITS group). The controller composes one message (a doorbell
//! address and a data word) per vector and asks the driver to write it into
//! the device's own registers, at allocation or activation and again
//! whenever the vector moves (an affinity change).
//!
//! C header: [`include/linux/msi.h`](srctree/include/linux/msi.h)

use crate::{
    bindings,
    device::Bound,
    error::{to_result, Result},
    irq::IrqRequest,
    platform,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    types::ForeignOwnable,
};
use core::{ffi::c_void, marker::PhantomData, ptr};

/// One message of an MSI controller: write `data` to `address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiMsg {
    /// The doorbell address.
    pub address: u64,
    /// The data word the device writes.
    pub data: u32,
}

/// Writes the messages of a device's MSI vectors into the device.
pub trait MsiWriter: Send + Sync + 'static {
    /// Programs vector `index` to signal with `msg`.
    ///
    /// Called from atomic context, with the interrupt descriptor's raw
    /// spinlock held: it must not sleep or take a (sleeping on RT) spinlock.
    fn write_msi_msg(&self, index: u32, msg: MsiMsg);
}

/// Most platform devices with MSIs at once (a server has tens of SMMUs).
const MAX_DEVICES: usize = 64;

/// The writer of one device. The MSI core passes only the vector's
/// descriptor to the callback, and a Rust driver's data is not set until
/// its probe returns, so the callback finds the writer here by device.
///
/// A slot is claimed by setting `ctx` (0 → the writer), then `dev`; it is
/// looked up by `dev` without a lock, so the callback may run in any
/// context; it is released only after the device's MSIs are freed, when no
/// callback for it can run any more.
struct Slot {
    dev: Atomic<*mut bindings::device>,
    ctx: Atomic<*mut c_void>,
}

static SLOTS: [Slot; MAX_DEVICES] = [const {
    Slot {
        dev: Atomic::new(ptr::null_mut()),
        ctx: Atomic::new(ptr::null_mut()),
    }
}; MAX_DEVICES];

/// The callback of `platform_device_msi_init_and_alloc_irqs()`.
///
/// # Safety
///
/// `desc` and `msg` are valid, and `desc` is a vector of a device whose
/// slot holds an `Arc<T>` (the MSI core calls this only for vectors
/// allocated by [`platform::Device::alloc_msis`] with a `T` writer, while
/// they are allocated).
unsafe extern "C" fn write_msi_msg<T: MsiWriter>(
    desc: *mut bindings::msi_desc,
    msg: *mut bindings::msi_msg,
) {
    // SAFETY: `desc` and `msg` are valid (function contract).
    let (dev, index, msg) = unsafe {
        let m = &*msg;
        let address = (u64::from(m.__bindgen_anon_2.address_hi) << 32)
            | u64::from(m.__bindgen_anon_1.address_lo);
        (
            (*desc).dev,
            u32::from((*desc).msi_index),
            MsiMsg {
                address,
                data: m.__bindgen_anon_3.data,
            },
        )
    };
    for slot in SLOTS.iter() {
        if slot.dev.load(Acquire) == dev {
            let ctx = slot.ctx.load(Relaxed);
            // SAFETY: The slot of `dev` holds an `Arc<T>` until the device's
            // MSIs are freed, which is after this callback can run.
            let writer = unsafe { <Arc<T> as ForeignOwnable>::borrow(ctx) };
            writer.write_msi_msg(index, msg);
            return;
        }
    }
}

/// The MSIs of one device, freed with their writer on unbind.
///
/// # Invariants
///
/// `SLOTS[slot]` holds `dev` and an `Arc<T>` from `into_foreign`, and the
/// device's MSIs are allocated with [`write_msi_msg::<T>`].
struct Msis<T: MsiWriter> {
    dev: *mut bindings::device,
    slot: usize,
    _writer: PhantomData<Arc<T>>,
}

// SAFETY: `Msis` only frees the MSIs of a device and releases a slot; the
// device outlives it (it is device-managed), and the writer is `Send + Sync`.
unsafe impl<T: MsiWriter> Send for Msis<T> {}

impl<T: MsiWriter> Drop for Msis<T> {
    fn drop(&mut self) {
        // SAFETY: The device's MSIs were allocated (type invariant) and are
        // freed once, here; the devres action runs after the driver's data,
        // with the interrupt handlers of these vectors, was dropped.
        unsafe { bindings::platform_device_msi_free_irqs_all(self.dev) };
        let slot = &SLOTS[self.slot];
        slot.dev.store(ptr::null_mut(), Relaxed);
        let ctx = slot.ctx.load(Relaxed);
        // SAFETY: No callback runs any more (the MSIs are freed), and `ctx`
        // came from `into_foreign` (type invariant).
        drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(ctx) });
        slot.ctx.store(ptr::null_mut(), Release);
    }
}

/// MSIs of a bound platform device. A trait, as [`crate::dma::Device`] is,
/// so that only a driver that signals with MSIs brings it into scope.
pub trait MsiDevice {
    /// Whether the firmware gives this device an MSI controller.
    fn has_msi_domain(&self) -> bool;

    /// Allocates `nvec` MSIs for the device (indices `0..nvec`). `writer`
    /// writes each vector's message into the device, from now until the
    /// vectors are freed when the device unbinds.
    ///
    /// Fails with `ENODEV` when the device has no MSI controller, `EBUSY`
    /// when too many devices use this facility, or the MSI core's error.
    fn alloc_msis<T: MsiWriter>(&self, nvec: u32, writer: Arc<T>) -> Result;

    /// The interrupt of MSI vector `index` (allocated by
    /// [`MsiDevice::alloc_msis`]), to register a handler with.
    fn msi_irq(&self, index: u32) -> Result<IrqRequest<'_>>;
}

impl MsiDevice for platform::Device<Bound> {
    fn has_msi_domain(&self) -> bool {
        if cfg!(arm_smmu_v3_rs_distro) {
            return false;
        }
        let dev: &crate::device::Device = self.as_ref();
        // SAFETY: `dev.as_raw()` is a valid device; `msi.domain` is set when
        // the device is created and read-only after.
        !unsafe { (*dev.as_raw()).msi.domain }.is_null()
    }

    fn alloc_msis<T: MsiWriter>(&self, nvec: u32, writer: Arc<T>) -> Result {
        if !self.has_msi_domain() {
            return Err(ENODEV);
        }
        let dev: &crate::device::Device<Bound> = self.as_ref();
        let ctx = writer.into_foreign();
        let Some(slot) = SLOTS
            .iter()
            .position(|s| s.ctx.cmpxchg(ptr::null_mut(), ctx, Relaxed).is_ok())
        else {
            // SAFETY: `ctx` came from `into_foreign` just above and was not
            // published.
            drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(ctx) });
            return Err(EBUSY);
        };
        SLOTS[slot].dev.store(dev.as_raw(), Release);
        // SAFETY: `dev` is a bound platform device with an MSI domain; the
        // callback finds its writer in `SLOTS[slot]`, which holds an `Arc<T>`.
        let ret = to_result(unsafe {
            bindings::platform_device_msi_init_and_alloc_irqs(
                dev.as_raw(),
                nvec,
                Some(write_msi_msg::<T>),
            )
        });
        let msis = Msis::<T> {
            dev: dev.as_raw(),
            slot,
            _writer: PhantomData,
        };
        if let Err(e) = ret {
            // The core frees what it allocated of the domain on failure, and
            // freeing again is harmless; `Msis::drop` releases the slot.
            drop(msis);
            return Err(e);
        }
        crate::devres::register(dev, msis, GFP_KERNEL)
    }

    fn msi_irq(&self, index: u32) -> Result<IrqRequest<'_>> {
        #[cfg(arm_smmu_v3_rs_distro)]
        {
            // Out of tree, on a stock kernel crate, `IrqRequest::new` is
            // crate-private: `has_msi_domain` says no and nothing gets here.
            let _ = index;
            Err(ENODEV)
        }
        #[cfg(not(arm_smmu_v3_rs_distro))]
        {
            let dev: &crate::device::Device<Bound> = self.as_ref();
            // SAFETY: `dev.as_raw()` is a valid device.
            let irq = unsafe {
                bindings::msi_domain_get_virq(
                    dev.as_raw(),
                    bindings::msi_domain_ids_MSI_DEFAULT_DOMAIN,
                    index,
                )
            };
            if irq == 0 {
                return Err(ENXIO);
            }
            // SAFETY: `irq` is an MSI vector of this device; the vectors are
            // freed by devres after the driver's data (holding any handler
            // registered with this request) is dropped.
            Ok(unsafe { IrqRequest::new(dev, irq) })
        }
    }
}
