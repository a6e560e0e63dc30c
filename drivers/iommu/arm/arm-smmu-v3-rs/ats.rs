// SPDX-License-Identifier: GPL-2.0

//! PCIe ATS: which devices may use it, invalidating their ATCs, and turning
//! it off for good when a device stops answering ATC invalidations.
//!
//! The attach order that turns ATS on and off is [`crate::hw::ats::plan`],
//! run by [`Smmu::attach`]. An ATC invalidation that times out
//! (CERROR_ATC_INV_SYNC, [`ATC_TIMEOUT`]) is noticed by the invalidation
//! that issued it, often in atomic context (a DMA unmap). It hands the
//! StreamIDs of that batch to a work item, which finds the devices that
//! still do not answer, marks their array entries broken (walkers stop
//! sending them ATC invalidations), disables ATS in the device and clears
//! STE.EATS, and logs once. The device goes on working with the SMMU
//! translating its DMA; ATS stays off until it is probed again.

use crate::{
    cmdq::{SyncAfter, ATC_TIMEOUT},
    hw::cmd::{AtcSpan, Cmd, Ssid},
    iommu::MasterState,
    smmu::Smmu,
};
use kernel::{
    device::Device,
    pci::{self, ats::Ats as _},
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        new_mutex, Arc, Mutex,
    },
    time::{delay::fsleep, Delta},
    workqueue,
};

/// A device behind the SMMU that may use ATS, found by StreamID when its
/// ATC invalidation timed out.
struct AtsLink {
    dev: ARef<Device>,
    sids: KVec<u32>,
    state: Arc<Mutex<MasterState>>,
}

/// The ATS-capable devices of one SMMU, and the work items checking them.
pub(crate) struct AtsMasters {
    links: Pin<KBox<Mutex<KVec<AtsLink>>>>,
    /// Work items queued and not finished: the SMMU waits for them when it
    /// goes.
    pending: Atomic<u32>,
    /// ATC invalidations of `ats_test_timeout_sid` issued so far.
    test_seen: Atomic<u32>,
}

impl AtsMasters {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            links: KBox::pin_init(new_mutex!(KVec::new()), GFP_KERNEL)?,
            pending: Atomic::new(0),
            test_seen: Atomic::new(0),
        })
    }
}

/// The test-only StreamID whose ATC invalidations "time out"
/// (`ats_test_timeout_sid`), if set.
pub(crate) fn test_timeout_sid() -> Option<u32> {
    match crate::module_parameters::ats_test_timeout_sid.value() {
        u32::MAX => None,
        sid => Some(sid),
    }
}

/// ATS masters and their ATC timeouts.
impl Smmu {
    /// Remembers `dev`, an ATS-capable device with `sids`, so a timed-out
    /// ATC invalidation can turn its ATS off.
    pub(crate) fn add_ats_master(
        &self,
        dev: &Device,
        sids: &[u32],
        state: &Arc<Mutex<MasterState>>,
    ) -> Result {
        let mut v = KVec::with_capacity(sids.len(), GFP_KERNEL)?;
        v.extend_from_slice(sids, GFP_KERNEL)?;
        self.ats.links.lock().push(
            AtsLink {
                dev: dev.into(),
                sids: v,
                state: state.clone(),
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Forgets the ATS-capable device with `sids`.
    pub(crate) fn remove_ats_master(&self, sids: &[u32]) {
        self.ats
            .links
            .lock()
            .retain(|l| !l.sids.iter().any(|s| sids.contains(s)));
    }

    /// Issues an ATC invalidation of everything for every StreamID in
    /// `sids`, then one CMD_SYNC (`arm_smmu_atc_inv_master()` with no
    /// PASID, which invalidates the whole ATC).
    pub(crate) fn atc_inv_all(&self, sids: &[u32]) -> Result {
        self.issue_with(SyncAfter::Always, |push| {
            sids.iter().try_for_each(|&sid| {
                push(&Cmd::AtcInv {
                    sid,
                    ssid: Ssid::ZERO,
                    span: AtcSpan::ALL,
                })
            })
        })
    }

    /// [`Smmu::issue_with`]'s check for the test-only parameters
    /// `ats_test_timeout_sid` (`dead`) and `ats_test_timeout_after`: once
    /// that many ATC invalidations of the StreamID went through, a batch
    /// with one more returns [`ATC_TIMEOUT`] as if the device stopped
    /// answering.
    pub(crate) fn test_atc_timeout(&self, cmd: &Cmd, dead: u32, hit: &mut bool) {
        if matches!(cmd, Cmd::AtcInv { sid, .. } if *sid == dead) {
            let after = crate::module_parameters::ats_test_timeout_after.value();
            *hit |= self.ats.test_seen.fetch_add(1, Relaxed) >= after;
        }
    }

    /// Called by an invalidation whose ATC invalidations of `sids` timed
    /// out, in any context: checks them from a work item.
    pub(crate) fn ats_timed_out(self: &Arc<Self>, sids: KVec<u32>) {
        let smmu = self.clone();
        self.ats.pending.fetch_add(1, Relaxed);
        // It may wait for ATC invalidations to time out again.
        let queued = workqueue::system_long().try_spawn(GFP_ATOMIC, move || {
            smmu.ats_check(&sids);
            smmu.ats.pending.fetch_sub(1, Relaxed);
        });
        if queued.is_err() {
            self.ats.pending.fetch_sub(1, Relaxed);
            dev_err!(
                self.dev(),
                "ATC invalidation timed out; no memory to check the devices\n"
            );
        }
    }

    /// Asks each device of `sids` again, alone; turns ATS off for those
    /// that still time out.
    fn ats_check(&self, sids: &[u32]) {
        // Serialises with attach, which also changes STEs, arrays and ATS.
        let _attach = self.attach_lock.lock();
        let mut dead: KVec<AtsLink> = KVec::new();
        {
            let links = self.ats.links.lock();
            for l in links.iter() {
                if !l.sids.iter().any(|s| sids.contains(s)) {
                    continue;
                }
                if self.atc_inv_all(&l.sids) != Err(ATC_TIMEOUT) {
                    continue;
                }
                let mut v = KVec::new();
                let copy = AtsLink {
                    dev: l.dev.clone(),
                    sids: KVec::new(),
                    state: l.state.clone(),
                };
                if v.extend_from_slice(&l.sids, GFP_KERNEL).is_err()
                    || dead.push(AtsLink { sids: v, ..copy }, GFP_KERNEL).is_err()
                {
                    dev_err!(l.dev, "ATC invalidation timed out; cannot disable ATS\n");
                }
            }
        }
        for l in dead.iter() {
            self.ats_break(&l.dev, &l.sids, &mut l.state.lock());
        }
    }

    /// Turns ATS off for good for `dev`: its array entries become broken,
    /// then ATS is disabled in the device and in its STE.
    fn ats_break(&self, dev: &Device, sids: &[u32], st: &mut MasterState) {
        if st.ats_broken {
            return;
        }
        st.ats_broken = true;
        dev_err!(
            dev,
            "ATC invalidation timed out: ATS disabled, the SMMU translates for the device\n"
        );
        if st.ats_in_array {
            if let Some(d) = st.domain.as_ref() {
                if let Err(e) = d.set_ats_broken(sids) {
                    dev_err!(dev, "cannot mark the ATS entries broken: {:?}\n", e);
                }
            }
        }
        if !st.ats_enabled {
            return;
        }
        // As an attach turning ATS off: the device first, then the STE.
        if let Ok(pdev) = <&pci::Device>::try_from(dev) {
            pdev.disable_ats();
        }
        if let Some(ste) = st.ste.as_ref().map(|s| s.without_ats()) {
            if let Err(e) = self.install(sids, &ste) {
                dev_err!(dev, "STE update failed: {:?}\n", e);
            }
            st.ste = Some(ste);
        }
        st.ats_enabled = false;
    }

    /// Waits (bounded) for the ATS work items still queued: they hold the
    /// SMMU and run this module's code.
    pub(crate) fn ats_quiesce(&self) {
        for _ in 0..5000 {
            if self.ats.pending.load(Relaxed) == 0 {
                return;
            }
            fsleep(Delta::from_millis(1));
        }
        dev_err!(self.dev(), "ATS checks still running after 5 s\n");
    }
}
