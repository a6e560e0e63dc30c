// SPDX-License-Identifier: GPL-2.0

//! The driver as the IOMMU of the devices behind an SMMU: their StreamIDs,
//! groups, and the identity and blocked domains.

use crate::{hw::ste::Ste, smmu::Smmu};
use kernel::{
    device::Device,
    iommu::{
        fwspec::{Fwspec, OfXlate},
        ops::{Cap, DomainType, IommuOps, ReleaseDomain},
    },
    prelude::*,
    sync::Arc,
};

/// A device behind the SMMU (`struct arm_smmu_master`).
pub(crate) struct Master {
    sids: KVec<u32>,
}

/// The IOMMU instance of one SMMU.
pub(crate) struct Iommu<'a> {
    pub(crate) smmu: Arc<Smmu<'a>>,
}

#[vtable]
impl<'a> IommuOps for Iommu<'a> {
    type Master = Master;
    const RELEASE_DOMAIN: ReleaseDomain = ReleaseDomain::Blocked;

    fn of_xlate(xlate: &OfXlate<'_>) -> Result {
        // `#iommu-cells = <1>`: the StreamID.
        xlate.add_ids(xlate.args().get(..1).ok_or(EINVAL)?)
    }

    fn probe_device<'b>(
        &'b self,
        dev: &'b Device,
        fwspec: &'b Fwspec,
    ) -> impl PinInit<Master, Error> + 'b {
        let smmu = &self.smmu;
        let master = (|| {
            let mut sids = KVec::with_capacity(fwspec.ids().len(), GFP_KERNEL)?;
            for &sid in fwspec.ids() {
                if !smmu.has_sid(sid) {
                    dev_err!(dev, "stream ID {:#x} out of range for the SMMU\n", sid);
                    return Err(ERANGE);
                }
                // Until a domain is attached, the stream aborts.
                smmu.strtab.ensure(Some(smmu.dev), sid, &Ste::abort())?;
                sids.push(sid, GFP_KERNEL)?;
            }
            Ok(Master { sids })
        })();
        master
    }

    fn def_domain_type(&self, _dev: &Device, _m: Pin<&Master>) -> Option<DomainType> {
        // No paging domains yet: every device gets the identity domain.
        Some(DomainType::IDENTITY)
    }

    fn capable(&self, _dev: &Device, _m: Pin<&Master>, cap: Cap) -> bool {
        if cap == Cap::CACHE_COHERENCY {
            self.smmu.coherent
        } else {
            cap == Cap::NOEXEC
        }
    }

    fn attach_identity(&self, _dev: &Device, m: Pin<&Master>) -> Result {
        self.smmu.install(&m.sids, &Ste::bypass(&self.smmu.caps))
    }

    fn attach_blocked(&self, _dev: &Device, m: Pin<&Master>) -> Result {
        self.smmu.install(&m.sids, &Ste::abort())
    }
}
