// SPDX-License-Identifier: GPL-2.0

//! `kernel::platform` with what this repo's overlay adds to the platform
//! driver trait (`scripts/overlay/0005-*`, `0008-*`): platform ID tables,
//! a shutdown callback and bind-attribute suppression.
//!
//! The stock crate's `Adapter` registers a `struct platform_driver` without
//! those fields, so a module on a stock kernel brings its own adapter. It
//! registers through the stock `driver::Registration` and works on the
//! stock `platform::Device`, so everything else (resources, interrupts,
//! DMA) stays the stock crate's.

pub use kernel::platform::*;

use crate::prelude::*;
use crate::raw::AsRawPlatform;
use kernel::{
    acpi, bindings,
    device::{self, CoreInternal},
    device_id::{RawDeviceId, RawDeviceIdIndex},
    driver,
    error::{from_result, to_result},
    of,
    types::Opaque,
    ThisModule,
};

/// A platform driver with the overlay's additions; see `rust/kernel/platform.rs`
/// in the in-tree series for the documentation of each item.
pub trait Driver {
    /// The type of each ID table entry's driver data.
    type IdInfo: 'static;
    /// The driver's data for a bound device.
    type Data<'bound>: Send + 'bound;
    /// The device tree match table.
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = None;
    /// The ACPI match table.
    const ACPI_ID_TABLE: Option<acpi::IdTable<Self::IdInfo>> = None;
    /// The platform device name table.
    const PLATFORM_ID_TABLE: Option<IdTable<Self::IdInfo>> = None;
    /// Whether sysfs `bind`/`unbind` are withheld.
    const SUPPRESS_BIND_ATTRS: bool = false;
    /// Binds the driver to `dev`.
    fn probe<'bound>(
        dev: &'bound Device<device::Core<'_>>,
        id_info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound;
    /// Unbinds the driver, before its data is dropped.
    fn unbind<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }
    /// Quiesces the device at reboot, power-off or kexec.
    fn shutdown<'bound>(dev: &'bound Device<device::Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        let _ = (dev, this);
    }
}

/// The `struct platform_driver` of a [`Driver`].
pub struct Adapter<T: Driver>(T);

// SAFETY: `DriverType` is `struct platform_driver`, whose `driver` field is at
// `DEVICE_DRIVER_OFFSET`; the driver data is `T::Data`, as `probe_callback`
// stores it.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::platform_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = core::mem::offset_of!(Self::DriverType, driver);
}

// SAFETY: `unregister` is only called after a successful `register` of the
// same `platform_driver`.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        pdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let of_table = T::OF_ID_TABLE.map_or(core::ptr::null(), |t| t.as_ptr());
        let acpi_table = T::ACPI_ID_TABLE.map_or(core::ptr::null(), |t| t.as_ptr());
        let platform_table = T::PLATFORM_ID_TABLE.map_or(core::ptr::null(), |t| t.as_ptr());
        // SAFETY: The fields of a `platform_driver` may be set before it is
        // registered, and `pdrv` is valid (the caller's guarantee).
        unsafe {
            (*pdrv.get()).driver.name = name.as_char_ptr();
            (*pdrv.get()).probe = Some(Self::probe_callback);
            (*pdrv.get()).remove = Some(Self::remove_callback);
            (*pdrv.get()).shutdown = Some(Self::shutdown_callback);
            (*pdrv.get()).id_table = platform_table;
            (*pdrv.get()).driver.of_match_table = of_table;
            (*pdrv.get()).driver.acpi_match_table = acpi_table;
            (*pdrv.get()).driver.suppress_bind_attrs = T::SUPPRESS_BIND_ATTRS;
        }
        // SAFETY: `pdrv` is a valid, initialised `platform_driver`.
        to_result(unsafe {
            bindings::__platform_driver_register(pdrv.get(), module.as_ptr(), name.as_char_ptr())
        })
    }

    unsafe fn unregister(pdrv: &Opaque<Self::DriverType>) {
        // SAFETY: `pdrv` was registered (the caller's guarantee).
        unsafe { bindings::platform_driver_unregister(pdrv.get()) };
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn probe_callback(pdev: *mut bindings::platform_device) -> kernel::ffi::c_int {
        // SAFETY: The platform bus calls probe with a valid `platform_device`,
        // valid for the whole call, and `Device` is `#[repr(transparent)]`
        // over it.
        let pdev = unsafe { &*pdev.cast::<Device<CoreInternal<'_>>>() };
        // SAFETY: The match data of a device bound by this driver comes from
        // its tables, of type `T::IdInfo`.
        let info = unsafe { <Self as driver::Adapter>::id_info(pdev.as_ref()) }
            .or_else(|| Self::platform_id_info(pdev));
        from_result(|| {
            let data = T::probe(pdev, info);
            pdev.as_ref().set_drvdata(data)?;
            Ok(0)
        })
    }

    extern "C" fn remove_callback(pdev: *mut bindings::platform_device) {
        // SAFETY: As in `probe_callback`.
        let pdev = unsafe { &*pdev.cast::<Device<CoreInternal<'_>>>() };
        // SAFETY: remove follows a successful probe, which stored a
        // `Pin<KBox<T::Data>>` as the driver data.
        let data = unsafe { pdev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::unbind(pdev, data);
    }

    extern "C" fn shutdown_callback(pdev: *mut bindings::platform_device) {
        // SAFETY: As in `probe_callback`.
        let pdev = unsafe { &*pdev.cast::<Device<CoreInternal<'_>>>() };
        // SAFETY: `platform_shutdown()` calls the driver the device is bound
        // to, so probe succeeded and stored the driver data.
        let data = unsafe { pdev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::shutdown(pdev, data);
    }

    fn platform_id_info(pdev: &Device<CoreInternal<'_>>) -> Option<&'static T::IdInfo> {
        let table = T::PLATFORM_ID_TABLE?;
        // SAFETY: `pdev` is a valid `platform_device`; `id_entry` is written
        // by `platform_match()` before probe.
        let entry = unsafe { (*pdev.as_raw()).id_entry };
        if entry.is_null() {
            return None;
        }
        let mut id = table.as_ptr();
        // SAFETY: `table` is a static `IdArray` ending with a zeroed entry;
        // every entry up to it may be read.
        while unsafe { (*id).name[0] } != 0 {
            if core::ptr::eq(id, entry) {
                // SAFETY: `DeviceId` is `#[repr(transparent)]` over
                // `platform_device_id` and `id` is in an `IdArray<_, T::IdInfo>`.
                return unsafe { (*id.cast::<DeviceId>()).info_unchecked_opt::<T::IdInfo>() };
            }
            // SAFETY: `id` is not the sentinel, so the next entry is in the table.
            id = unsafe { id.add(1) };
        }
        None
    }
}

impl<T: Driver> driver::Adapter for Adapter<T> {
    type IdInfo = T::IdInfo;

    fn of_id_table() -> Option<of::IdTable<Self::IdInfo>> {
        T::OF_ID_TABLE
    }

    fn acpi_id_table() -> Option<acpi::IdTable<Self::IdInfo>> {
        T::ACPI_ID_TABLE
    }
}

/// A platform device name to match (`struct platform_device_id`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::platform_device_id);

impl DeviceId {
    /// The entry for devices named `name`.
    #[inline(always)]
    pub const fn new(name: &'static CStr) -> Self {
        let src = name.to_bytes_with_nul();
        build_assert!(
            src.len() <= bindings::PLATFORM_NAME_SIZE as usize,
            "platform device name exceeds PLATFORM_NAME_SIZE"
        );
        let mut id: bindings::platform_device_id = pin_init::zeroed();
        let mut i = 0;
        while i < src.len() {
            id.name[i] = src[i];
            i += 1;
        }
        Self(id)
    }
}

// SAFETY: `DeviceId` is `#[repr(transparent)]` over `platform_device_id` and
// adds no invariant.
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::platform_device_id;
}

// SAFETY: `DRIVER_DATA_OFFSET` is the offset of the `driver_data` field.
unsafe impl RawDeviceIdIndex for DeviceId {
    const DRIVER_DATA_OFFSET: usize =
        core::mem::offset_of!(bindings::platform_device_id, driver_data);
}

/// A table of platform device names.
pub type IdTable<T> = &'static dyn kernel::device_id::IdTable<DeviceId, T>;

/// Declares a platform device name table (`MODULE_DEVICE_TABLE(platform, ...)`).
#[macro_export]
macro_rules! platform_device_table {
    ($($tt:tt)*) => {
        $crate::module_device_table!("platform", $crate::platform::DeviceId, $($tt)*);
    };
}

/// Declares the module of a [`Driver`].
#[macro_export]
macro_rules! module_platform_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::platform::Adapter<T>, { $($f)* });
    };
}
