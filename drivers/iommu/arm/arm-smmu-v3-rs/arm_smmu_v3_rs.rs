// SPDX-License-Identifier: GPL-2.0

//! Arm SMMUv3 IOMMU driver, in Rust.
//!
//! The driver probes the SMMU, decodes its ID registers through the pure
//! hardware model in [`hw`] and logs the same summary line as the C driver
//! (`drivers/iommu/arm/arm-smmu-v3/`). It then allocates the command and
//! event queues and the stream table, resets and enables the SMMU as the C
//! driver does, and registers as the IOMMU of the devices behind it. Those
//! devices get DMA (paging) domains by default: stage 1 with an ASID and a
//! CD table, or stage 2 with a VMID when the SMMU has no stage 1 or
//! `disable_s1` is set; identity and blocked domains bypass and abort.
//!
//! Which driver binds is chosen on the kernel command line:
//! `initcall_blacklist=arm_smmu_driver_init` keeps the C driver out,
//! `arm_smmu_v3_rs.disable=1` keeps this one out.

use kernel::{
    debugfs,
    device::{Bound, Core, Device},
    dma::{Device as _, DmaMask},
    irq, of, platform,
    platform_msi::MsiDevice as _,
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader,
};

mod ats;
mod cdtab;
mod cmdq;
mod domain;
mod dump;
mod events;
mod firmware;
pub mod hw;
#[cfg(CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST)]
mod hw_kunit;
mod iommu;
mod lu;
mod mmio;
mod reset;
mod smmu;
mod strtab;
mod table;

use events::{CombinedHandler, EventHandler, GerrorHandler, PriHandler};
use firmware::Firmware;
use hw::{
    regs::{self, off, DecodeError, IdRegs, Platform},
    reset::MsiIndex,
};
use iommu::Iommu;
use kernel::{iommu::device::Registration, str::CString};
use mmio::Regs;
use smmu::Smmu;

/// Page order of the largest queue the kernel can allocate (`Q_MAX_SZ_SHIFT`
/// less `PAGE_SHIFT` in the C driver).
// `CMA_ALIGNMENT` exists only with `DMA_CMA` (C tests the option itself).
#[cfg(CONFIG_DMA_CMA)]
const Q_MAX_ORDER: u32 = kernel::bindings::CONFIG_CMA_ALIGNMENT;
#[cfg(not(CONFIG_DMA_CMA))]
const Q_MAX_ORDER: u32 = kernel::bindings::MAX_PAGE_ORDER;

/// The platform driver for `arm,smmu-v3` DT nodes and the `arm-smmu-v3`
/// devices the ACPI IORT creates.
struct ArmSmmuV3;

/// Disables the SMMU when dropped (on unbind), whoever still holds it.
struct Shutdown(Arc<Smmu>);

impl Drop for Shutdown {
    fn drop(&mut self) {
        self.0.shutdown();
        // Invalidation arrays replaced by attach/detach are freed by RCU
        // callbacks in this module's code; no attach can happen any more,
        // so wait for the pending ones before the module can go.
        kernel::sync::rcu::rcu_barrier();
    }
}

/// What the driver keeps while bound to an SMMU. Fields drop in order:
/// interrupts first, then the IOMMU registration (which releases every
/// device), then the SMMU is disabled. Its memory goes with the last
/// reference, possibly a paging domain's.
#[pin_data]
struct SmmuData<'bound> {
    _combined_irq: Option<Pin<KBox<irq::ThreadedRegistration<'bound, CombinedHandler>>>>,
    _evtq_irq: Option<Pin<KBox<irq::ThreadedRegistration<'bound, EventHandler>>>>,
    _gerror_irq: Option<Pin<KBox<irq::Registration<'bound, GerrorHandler>>>>,
    _priq_irq: Option<Pin<KBox<irq::ThreadedRegistration<'bound, PriHandler>>>>,
    #[pin]
    iommu: Registration<'bound, Iommu>,
    /// `preserve`: live update requests ([`lu`]); dropped before its
    /// directories.
    #[pin]
    _preserve: debugfs::File<Arc<Smmu>>,
    /// The decoder's files ([`dump`]).
    #[pin]
    _streams: debugfs::File<Arc<Smmu>>,
    #[pin]
    _ste: debugfs::File<Arc<Smmu>>,
    #[pin]
    _counters: debugfs::File<Arc<Smmu>>,
    _debugfs_smmu: debugfs::Dir,
    _shutdown: Shutdown,
}

kernel::of_device_table!(
    OF_TABLE,
    <ArmSmmuV3 as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"arm,smmu-v3"), ())]
);

kernel::platform_device_table!(
    PLATFORM_TABLE,
    <ArmSmmuV3 as platform::Driver>::IdInfo,
    [(platform::DeviceId::new(firmware::IORT_NAME), ())]
);

/// Allocates the SMMU's MSIs when it can signal with them and the firmware
/// gives it an MSI controller (`arm_smmu_setup_msis()`), with the SMMU's
/// interrupts stopped (IRQ_CFG0-2 may only change while they are), until
/// the caller has registered its handlers. Whether MSIs are used; if not,
/// the wired interrupts are.
fn setup_msis(pdev: &platform::Device<Bound>, smmu: &Arc<Smmu>) -> bool {
    let dev: &Device = pdev.as_ref();
    if !smmu.info.features.contains(regs::Features::MSI) {
        return false;
    }
    if !pdev.has_msi_domain() {
        dev_info!(dev, "msi_domain absent - falling back to wired irqs\n");
        return false;
    }
    if !smmu.set_irqs(false) {
        return false;
    }
    let nvec = hw::reset::msi_vectors(smmu.info.features);
    match pdev.alloc_msis(nvec, smmu.clone()) {
        Ok(()) => {
            dev_info!(dev, "using {} MSIs\n", nvec);
            true
        }
        Err(e) => {
            dev_warn!(
                dev,
                "failed to allocate MSIs ({:?}) - falling back to wired irqs\n",
                e
            );
            smmu.set_irqs(true);
            false
        }
    }
}

/// A write to the debugfs file `preserve`: the name of a device whose
/// translation is to survive the next kexec ([`Smmu::request_preservation`]).
fn preserve_write(smmu: &Arc<Smmu>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let len = reader.len();
    let buf = buf.get_mut(..len).ok_or(EINVAL)?;
    reader.read_slice(buf)?;
    let name = core::str::from_utf8(buf).map_err(|_| EINVAL)?.trim();
    smmu.request_preservation(name)
}

/// The registration of an interrupt, or `None` with C's warning if it could
/// not be requested (`arm_smmu_setup_unique_irqs()`): the SMMU works
/// without it, only what it reports is lost.
fn request_or_warn<T>(dev: &Device, what: &str, reg: Result<T>) -> Option<T> {
    reg.inspect_err(|e| dev_warn!(dev, "failed to enable {} irq ({:?})\n", what, e))
        .ok()
}

/// Reads the ID registers of the SMMU.
fn read_id_regs(regs: &Regs) -> IdRegs {
    IdRegs {
        idr: [
            regs.read32(off::IDR0),
            regs.read32(off::IDR1),
            regs.read32(off::IDR2),
            regs.read32(off::IDR3),
            regs.read32(off::IDR4),
            regs.read32(off::IDR5),
        ],
        iidr: regs.read32(off::IIDR),
        aidr: regs.read32(off::AIDR),
    }
}

/// Logs why the ID registers describe an SMMU we cannot use.
fn report_decode_error(dev: &Device<Bound>, err: DecodeError) -> Error {
    match err {
        DecodeError::Endianness(e) => {
            dev_err!(
                dev,
                "unknown/unsupported TT endianness (IDR0.TTENDIAN {})\n",
                e
            )
        }
        DecodeError::NoTranslation => dev_err!(dev, "no translation support!\n"),
        DecodeError::NoAArch64Tables => dev_err!(dev, "AArch64 table format not supported!\n"),
        DecodeError::Embedded => dev_err!(dev, "embedded implementation not supported\n"),
        DecodeError::CmdqTooSmall(n) => {
            dev_err!(dev, "command queue size <= {} entries not supported\n", n)
        }
        DecodeError::NoGranule => dev_err!(dev, "no supported translation granule\n"),
    }
    ENXIO
}

impl platform::Driver for ArmSmmuV3 {
    type IdInfo = ();
    type Data<'bound> = SmmuData<'bound>;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);
    const PLATFORM_ID_TABLE: Option<platform::IdTable<Self::IdInfo>> = Some(&PLATFORM_TABLE);
    // As the C driver: the IOMMU cannot go away under devices using it.
    const SUPPRESS_BIND_ATTRS: bool = true;

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || Self::probe_smmu(pdev))
    }

    /// Reboot, power-off or kexec: the SMMU stops translating and fetching
    /// (CR0 = 0), as `arm_smmu_device_shutdown()` does; at a kexec with a
    /// live-update request it keeps translating for the preserved devices
    /// with its queues stopped ([`lu`]).
    fn shutdown<'bound>(_pdev: &'bound platform::Device<Core<'_>>, this: Pin<&SmmuData<'bound>>) {
        let smmu = &this._shutdown.0;
        if !smmu.shutdown_preserving() {
            smmu.disable();
        }
    }
}

impl ArmSmmuV3 {
    /// Probes one SMMU: the work of [`platform::Driver::probe`].
    fn probe_smmu<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
    ) -> Result<impl PinInit<SmmuData<'bound>, Error> + 'bound> {
        let dev: &'bound Device<Bound> = pdev.as_ref();
        if module_parameters::disable.value() {
            dev_info!(dev, "disabled by arm_smmu_v3_rs.disable=1\n");
            return Err(ENODEV);
        }
        let fw = Firmware::probe(pdev)?;
        let plat = Platform {
            coherent: fw.coherent,
            of_node: fw.of_node,
            fw_httu: fw.httu,
            skip_prefetch: fw.skip_prefetch,
            page0_regs_only: fw.page0_regs_only,
            pci_ats: cfg!(CONFIG_PCI_ATS),
            pci_pri: cfg!(CONFIG_PCI_PRI),
            vhe: kernel::arm64::kernel_in_hyp_mode(),
            big_endian: cfg!(CONFIG_CPU_BIG_ENDIAN),
            q_max_sz_shift: kernel::page::PAGE_SHIFT as u32 + Q_MAX_ORDER,
        };

        let (start, size) = pdev
            .resource_by_index(0)
            .map_or((0, 0), |r| (r.start(), r.size()));
        let need = fw.mmio_size();
        if size < need as u64 {
            dev_err!(
                dev,
                "MMIO region too small ({:#x} bytes at {:#x}, need {:#x})\n",
                size,
                start,
                need
            );
            return Err(EINVAL);
        }
        let request = pdev.io_request_by_index(0).ok_or_else(|| {
            dev_err!(dev, "no MMIO resource\n");
            ENODEV
        })?;
        let iomem = request
            .iomap_exclusive_sized::<{ regs::PAGE_SZ }>()
            .inspect_err(|e| {
                dev_err!(
                    dev,
                    "cannot claim and map the SMMU's registers at {:#x}: {:?}\n",
                    start,
                    e
                )
            })?;
        let regs = Regs::new(iomem, fw.page0_regs_only)?;
        let id = read_id_regs(&regs);
        let mut info = regs::decode(&id, &plat).map_err(|e| report_decode_error(dev, e))?;
        if module_parameters::ats_test_force.value()
            && plat.pci_ats
            && !info.features.contains(regs::Features::ATS)
        {
            dev_warn!(
                dev,
                "using ATS without IDR0.ATS (ats_test_force, for tests only)\n"
            );
            info.features = regs::Features(info.features.0 | regs::Features::ATS.0);
        }

        dev_dbg!(
            dev,
            "IDR0-5 {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} IIDR {:#010x} AIDR {:#x}\n",
            id.idr[0], id.idr[1], id.idr[2], id.idr[3], id.idr[4], id.idr[5], id.iidr, id.aidr
        );
        if let Some((hw, fw)) = info.httu_mismatch {
            dev_warn!(
                dev,
                "IDR0.HTTU features({:#x}) overridden by FW configuration ({:#x})\n",
                hw,
                fw
            );
        }
        if info.cohacc_mismatch {
            dev_warn!(
                dev,
                "IDR0.COHACC overridden by FW configuration ({})\n",
                plat.coherent
            );
        }
        if info.oas_unknown {
            dev_info!(dev, "unknown output address size. Truncating to 48-bit\n");
        }
        dev_info!(
            dev,
            "oas {}-bit (features {:#010x})\n",
            info.oas,
            info.features.0
        );
        // The table walker's reach: tables and queues may come from
        // anywhere below 2^oas, not only from below 4 GiB.
        let mask = DmaMask::try_new(info.oas)?;
        // SAFETY: Nothing has allocated or mapped DMA memory for this device
        // yet, and nothing else can: probe runs under the device lock, and
        // the interrupts and the IOMMU registration come later.
        if unsafe { pdev.dma_set_mask_and_coherent(mask) }.is_err() {
            dev_warn!(dev, "failed to set DMA mask for table walker\n");
        }

        let name = CString::try_from_fmt(fmt!("smmu3.{:#x}", start))?;
        // Cavium ThunderX2: one interrupt for events, PRI and global errors.
        let combined = pdev.optional_irq_by_name(c"combined").is_ok();
        let smmu = Arc::new(
            Smmu::new(dev, regs, info, &plat, combined, start)?,
            GFP_KERNEL,
        )?;
        let combined_irq = if combined {
            let handler = Ok::<_, Error>(CombinedHandler { smmu: smmu.clone() });
            // SAFETY: As for the event queue interrupt below.
            let reg = unsafe {
                pdev.request_threaded_irq_by_name(
                    irq::Flags::ONESHOT,
                    c"combined",
                    c"arm-smmu-v3-rs-combined-irq",
                    handler,
                )
            };
            request_or_warn(dev, "combined", KBox::pin_init(reg, GFP_KERNEL))
        } else {
            None
        };
        // Server SMMUs without wired interrupts signal through MSIs
        // (`arm_smmu_setup_msis()`); the others use the named lines.
        let msis = !combined && setup_msis(pdev, &smmu);
        let source = |idx: MsiIndex| {
            if combined {
                None
            } else if msis {
                pdev.msi_irq(idx.vector()).ok()
            } else {
                pdev.optional_irq_by_name(idx.wired_name()).ok()
            }
        };
        let evtq_irq = source(MsiIndex::Evtq).and_then(|req| {
            let handler = Ok::<_, Error>(EventHandler { smmu: smmu.clone() });
            // SAFETY: The registration is kept in the driver's device data,
            // which the driver core drops on unbind; it is never leaked.
            let reg = unsafe {
                irq::ThreadedRegistration::new(
                    req,
                    irq::Flags::ONESHOT,
                    c"arm-smmu-v3-rs-evtq",
                    handler,
                )
            };
            request_or_warn(dev, "evtq", KBox::pin_init(reg, GFP_KERNEL))
        });
        let gerror_irq = source(MsiIndex::Gerror).and_then(|req| {
            let handler = Ok::<_, Error>(GerrorHandler { smmu: smmu.clone() });
            // SAFETY: As for the event queue interrupt.
            let reg = unsafe {
                irq::Registration::new(
                    req,
                    irq::Flags::TRIGGER_NONE,
                    c"arm-smmu-v3-rs-gerror",
                    handler,
                )
            };
            request_or_warn(dev, "gerror", KBox::pin_init(reg, GFP_KERNEL))
        });
        let priq_irq = if smmu.priq.is_some() {
            let reg = source(MsiIndex::Priq).and_then(|req| {
                let handler = Ok::<_, Error>(PriHandler { smmu: smmu.clone() });
                // SAFETY: As for the event queue interrupt.
                let reg = unsafe {
                    irq::ThreadedRegistration::new(
                        req,
                        irq::Flags::ONESHOT,
                        c"arm-smmu-v3-rs-priq",
                        handler,
                    )
                };
                request_or_warn(dev, "priq", KBox::pin_init(reg, GFP_KERNEL))
            });
            if reg.is_none() && !combined {
                dev_warn!(
                    dev,
                    "no priq interrupt: PRI requests will not be answered\n"
                );
            }
            reg
        } else {
            None
        };
        if msis {
            // The handlers are in place: signal again.
            smmu.set_irqs(true);
        }
        match (evtq_irq.is_some(), gerror_irq.is_some()) {
            _ if combined => {}
            (true, true) => {}
            (false, false) => dev_warn!(
                dev,
                "no eventq and gerror interrupts: events and global errors will not be reported\n"
            ),
            (false, true) => dev_warn!(dev, "no eventq interrupt: events will not be reported\n"),
            (true, false) => dev_warn!(
                dev,
                "no gerror interrupt: global errors will not be reported\n"
            ),
        }
        let debugfs_smmu = smmu_debugfs_dir(dev.name());
        Ok(try_pin_init!(SmmuData {
            _combined_irq: combined_irq,
            _evtq_irq: evtq_irq,
            _gerror_irq: gerror_irq,
            _priq_irq: priq_irq,
            // SAFETY: The registration is a field of the driver's device data,
            // which the driver core drops on unbind; it is never leaked.
            iommu <- unsafe {
                Registration::new(
                    dev,
                    &name,
                    &iommu::STATICS,
                    Ok::<_, Error>(Iommu { smmu: smmu.clone() }),
                )
            },
            _preserve <- debugfs_smmu.write_callback_file(
                c"preserve",
                smmu.clone(),
                &preserve_write,
            ),
            _streams <- debugfs_smmu.read_callback_file(
                c"streams",
                smmu.clone(),
                &dump::show_streams,
            ),
            _ste <- debugfs_smmu.read_write_callback_file(
                c"ste",
                smmu.clone(),
                &dump::show_ste,
                &dump::select_ste,
            ),
            _counters <- debugfs_smmu.read_callback_file(
                c"counters",
                smmu.clone(),
                &dump::show_counters,
            ),
            _debugfs_smmu: debugfs_smmu,
            _shutdown: Shutdown(smmu),
            _: {
                // The devices present at boot are attached by now.
                if !plat.coherent {
                    let (ste, ste_cleaned) = table::STE_UPDATES.get();
                    let (cd, cd_cleaned) = table::CD_UPDATES.get();
                    dev_info!(
                        dev,
                        "non-coherent SMMU: {} cache maintenance operations on tables so far; STE updates {} ({} cleaned), CD updates {} ({} cleaned)\n",
                        table::CMOS.load(kernel::sync::atomic::Relaxed),
                        ste,
                        ste_cleaned,
                        cd,
                        cd_cleaned
                    );
                }
            },
        }))
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in `DriverModule::init`, before the driver is
    // registered and so before any other use.
    unsafe(uninit) static DEBUGFS_ROOT: Mutex<Option<debugfs::Dir>> = None;
}

/// The debugfs directory of the SMMU named `name`:
/// `/sys/kernel/debug/arm_smmu_v3_rs/<name>/`. The top directory is the
/// module's, shared by every SMMU: an arm64 server has several, and the
/// first one to go must not take the others' files with it.
fn smmu_debugfs_dir(name: &CStr) -> debugfs::Dir {
    match &*DEBUGFS_ROOT.lock() {
        Some(root) => root.subdir(name),
        // Not reached: the root lives as long as the driver is registered.
        None => debugfs::Dir::new(name),
    }
}

/// Holds the module's debugfs root from its creation until dropped, after
/// the driver was unregistered (field order of [`DriverModule`]): every
/// SMMU's directory is gone by then.
struct DebugfsRoot;

impl DebugfsRoot {
    fn new() -> Self {
        *DEBUGFS_ROOT.lock() = Some(debugfs::Dir::new(c"arm_smmu_v3_rs"));
        Self
    }
}

impl Drop for DebugfsRoot {
    fn drop(&mut self) {
        *DEBUGFS_ROOT.lock() = None;
    }
}

/// The module: the platform driver, and the debugfs directory its SMMUs
/// share (`module_platform_driver!` has no place for the latter).
#[pin_data]
struct DriverModule {
    // Dropped in declaration order: the driver first.
    #[pin]
    _driver: kernel::driver::Registration<platform::Adapter<ArmSmmuV3>>,
    _debugfs: DebugfsRoot,
}

impl kernel::InPlaceModule for DriverModule {
    fn init(module: &'static kernel::ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, here, before anything else uses the lock.
        unsafe { DEBUGFS_ROOT.init() };
        // The root first, so that probes find it; it goes again if the
        // registration fails.
        try_pin_init!(Self {
            _debugfs: DebugfsRoot::new(),
            _driver <- kernel::driver::Registration::new(
                <Self as kernel::ModuleMetadata>::NAME,
                module,
            ),
        })
    }
}

kernel::prelude::module! {
    type: DriverModule,
    name: "arm_smmu_v3_rs",
    authors: ["The arm-smmu-v3-rs developers"],
    description: "Arm SMMUv3 IOMMU driver (Rust)",
    license: "GPL",
    params: {
        disable: bool {
            default: false,
            description: "Do not bind to any SMMU (leave it to the C driver)",
        },
        disable_s1: bool {
            default: cfg!(CONFIG_ARM_SMMU_V3_RS_DISABLE_S1),
            description: "Make every paging domain stage 2 when the SMMU has stage 2",
        },
        cmdq_shift_max: u32 {
            default: 0,
            description: "For tests only: log2 of the most CMDQ entries (0: the SMMU's)",
        },
        ats_test_force: bool {
            default: false,
            description: "For tests only: use ATS although IDR0.ATS is clear (QEMU)",
        },
        ats_test_timeout_sid: u32 {
            default: 0xffff_ffff,
            description: "For tests only: this StreamID's ATC invalidations time out",
        },
        ats_test_timeout_after: u32 {
            default: 0,
            description: "For tests only: ATC invalidations before the timeouts start",
        },
        lu_test_bad_record: bool {
            default: false,
            description: "For tests only: hand over a live-update record of a bad version",
        },
    },
}
