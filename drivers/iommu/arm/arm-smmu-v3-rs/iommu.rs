// SPDX-License-Identifier: GPL-2.0

//! The driver as the IOMMU of the devices behind an SMMU: their StreamIDs,
//! groups, reserved regions, and the blocked, identity and paging domains
//! they attach to.

use crate::{
    cdtab::CdTable,
    domain::{Inval, Target},
    hw::{regs::Features, ste::Ste},
    smmu::Smmu,
};
use kernel::{
    device::{Bound, Device},
    iommu::{
        domain::OwnedDomain,
        fwspec::{Fwspec, OfXlate, FWSPEC_PCI_RC_ATS},
        ops::{Cap, IommuOps, ReleaseDomain, ResvRegions, Statics},
    },
    pci::{self, ats::Ats as _},
    prelude::*,
    sync::{new_mutex, Arc, Mutex},
};

/// The IOVA window where `dma-iommu` maps MSI doorbells (`MSI_IOVA_BASE`,
/// `MSI_IOVA_LENGTH` of the C driver).
const MSI_IOVA_BASE: u64 = 0x800_0000;
const MSI_IOVA_LENGTH: usize = 0x10_0000;

/// What a device's STE and CD table currently point at.
pub(crate) struct MasterState {
    /// The CD table, allocated when the device first attaches to a stage-1
    /// domain and kept until it is released (`master->cd_table`).
    pub(crate) cdtab: Option<Pin<KBox<CdTable>>>,
    /// The paging domain the device is attached to, if any.
    pub(crate) domain: Option<Arc<Inval>>,
    /// CD 0 is live (the STE points at the CD table).
    pub(crate) s1: bool,
    /// The STE last installed for the device's StreamIDs.
    pub(crate) ste: Option<Ste>,
    /// ATS is enabled in the device (`master->ats_enabled`).
    pub(crate) ats_enabled: bool,
    /// The current domain's array holds the device's ATS entries (broken
    /// or not): what detaching must drop.
    pub(crate) ats_in_array: bool,
    /// An ATC invalidation of the device timed out: ATS stays off until
    /// the device is probed again.
    pub(crate) ats_broken: bool,
}

/// A device behind the SMMU (`struct arm_smmu_master`).
#[pin_data]
pub(crate) struct Master {
    pub(crate) sids: KVec<u32>,
    /// The Smallest Translation Unit (log2) if the device may use ATS
    /// (`arm_smmu_ats_supported()`).
    pub(crate) ats_stu: Option<u32>,
    /// Shared with the ATS checks, which may turn ATS off
    /// ([`crate::ats`]).
    pub(crate) state: Arc<Mutex<MasterState>>,
}

/// Whether `dev` may use ATS behind `smmu`, and with which Smallest
/// Translation Unit (`arm_smmu_ats_supported()`, `arm_smmu_enable_ats()`):
/// the SMMU has ATS, the firmware says the root complex forwards ATS, and
/// the device has a usable ATS capability.
fn ats_stu(smmu: &Smmu, dev: &Device, fwspec: &Fwspec) -> Option<u32> {
    if !smmu.info.features.contains(Features::ATS) || fwspec.flags() & FWSPEC_PCI_RC_ATS == 0 {
        return None;
    }
    let pdev = <&pci::Device>::try_from(dev).ok()?;
    // The STU is the smallest page the SMMU maps (`__ffs(pgsize_bitmap)`).
    pdev.ats_supported()
        .then(|| smmu.info.pgsize_bitmap.trailing_zeros())
}

/// The driver's `struct iommu_ops` and static identity and blocked domains,
/// at the one address the IOMMU core compares.
pub(crate) static STATICS: Statics<Iommu> = Statics::new(&STATICS);

/// The IOMMU instance of one SMMU.
pub(crate) struct Iommu {
    pub(crate) smmu: Arc<Smmu>,
}

#[vtable]
impl IommuOps for Iommu {
    type Master = Master;
    const RELEASE_DOMAIN: ReleaseDomain = ReleaseDomain::Blocked;

    fn of_xlate(xlate: &OfXlate<'_>) -> Result {
        // `#iommu-cells = <1>`: the StreamID.
        xlate.add_ids(xlate.args().get(..1).ok_or(EINVAL)?)
    }

    fn probe_device<'b>(
        &'b self,
        parent: &'b Device<Bound>,
        dev: &'b Device,
        fwspec: &'b Fwspec,
    ) -> impl PinInit<Master, Error> + 'b {
        let smmu = &self.smmu;
        let state = Arc::pin_init(
            new_mutex!(MasterState {
                cdtab: None,
                domain: None,
                s1: false,
                ste: None,
                ats_enabled: false,
                ats_in_array: false,
                ats_broken: false,
            }),
            GFP_KERNEL,
        );
        let sids = (|| {
            let state = state.as_ref().map_err(|e| *e)?;
            let mut sids = KVec::with_capacity(fwspec.ids().len(), GFP_KERNEL)?;
            for &sid in fwspec.ids() {
                if !smmu.has_sid(sid) {
                    dev_err!(dev, "stream ID {:#x} out of range for the SMMU\n", sid);
                    return Err(ERANGE);
                }
                // Firmware may give one StreamID twice (DMA aliases of a
                // PCI device): the STE is one, so is the entry here.
                if sids.contains(&sid) {
                    continue;
                }
                // Until a domain is attached, the stream aborts.
                smmu.strtab
                    .ensure(Some(parent), sid, &crate::hw::ste::Ste::abort())?;
                sids.push(sid, GFP_KERNEL)?;
            }
            // A StreamID of another device cannot be shared: its STE can
            // only point at one domain (`arm_smmu_insert_master()`).
            if let Some((sid, other)) = smmu.add_streams(&sids, dev.name(), state)? {
                dev_warn!(
                    dev,
                    "Aliasing StreamID {:#x} (from {}) unsupported, expect DMA to be broken\n",
                    sid,
                    &*other
                );
                return Err(ENODEV);
            }
            Ok(sids)
        })();
        let master = (|| {
            let sids = sids?;
            let state = state?;
            let ats_stu = ats_stu(smmu, dev, fwspec);
            if ats_stu.is_some() {
                if let Err(e) = smmu.add_ats_master(dev, &sids, &state) {
                    smmu.remove_streams(&sids);
                    return Err(e);
                }
            }
            Ok((sids, ats_stu, state))
        })();
        let (sids, ats_stu, state) = match master {
            Ok(m) => (Ok(m.0), m.1, Ok(m.2)),
            Err(e) => (Err(e), None, Err(e)),
        };
        try_pin_init!(Master {
            sids: sids?,
            ats_stu,
            state: state?,
        }? Error)
    }

    fn release_device(&self, _dev: &Device, m: Pin<KBox<Master>>) {
        // The core attached the blocked domain (`RELEASE_DOMAIN`) first:
        // ATS is off.
        if m.ats_stu.is_some() {
            self.smmu.remove_ats_master(&m.sids);
        }
        self.smmu.remove_streams(&m.sids);
    }

    fn get_resv_regions(&self, dev: &Device, _m: Pin<&Master>, regions: &mut ResvRegions) {
        // Failure only means no MSI window: MSIs of translated devices
        // would then fault, which the event log reports.
        let _ = regions.add_sw_msi(MSI_IOVA_BASE, MSI_IOVA_LENGTH);
        // IORT RMRs, DT reserved-memory: direct-mapped in DMA domains.
        regions.add_firmware(dev);
    }

    fn capable(&self, _dev: &Device, _m: Pin<&Master>, cap: Cap) -> bool {
        if cap == Cap::CACHE_COHERENCY {
            self.smmu.coherent
        } else {
            cap == Cap::NOEXEC || cap == Cap::DEFERRED_FLUSH
        }
    }

    fn is_attach_deferred(&self, _dev: &Device, m: Pin<&Master>) -> bool {
        // Live update: the device keeps translating through the tables the
        // previous kernel handed over until its owner attaches a domain.
        self.smmu.is_adopted(&m.sids)
    }

    fn attach_identity(&self, dev: &Device, m: Pin<&Master>) -> Result {
        self.smmu.attach(None, dev, m.get_ref(), Target::Bypass)
    }

    fn attach_blocked(&self, dev: &Device, m: Pin<&Master>) -> Result {
        self.smmu.attach(None, dev, m.get_ref(), Target::Abort)
    }

    fn domain_alloc_paging_flags(
        &self,
        parent: &Device<Bound>,
        dev: &Device,
        _m: Pin<&Master>,
        flags: u32,
    ) -> Result<OwnedDomain> {
        if flags != 0 {
            dev_dbg!(dev, "unsupported paging domain flags {:#x}\n", flags);
            return Err(EOPNOTSUPP);
        }
        self.smmu
            .alloc_paging(parent, crate::module_parameters::disable_s1.value())
    }
}
