// SPDX-License-Identifier: GPL-2.0

//! One SMMU owned by the driver: its registers, queues and stream table,
//! reset and enabled on creation, disabled with GBPA abort on drop.

use crate::{
    cmdq::Cmdq,
    events::{InQueue, RateLimit, EVT_QWORDS},
    hw::{
        cmd::Cmd,
        pri::PRIQ_QWORDS,
        queue::Queue,
        regs::{ctrl_off, Features, Platform, SmmuInfo},
        reset::{QueueConfig, ResetMemory, ResetOptions},
        ste::{Ste, SteCaps},
        strtab::{StrtabFormat, StrtabGeometry},
    },
    mmio::Regs,
    reset,
    strtab::{SteSync, StreamTable},
};
use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    prelude::*,
};

/// An SMMU, enabled, with every StreamID aborting until a device attaches.
///
/// Lives for the binding of the SMMU's platform device (`'a`).
pub(crate) struct Smmu<'a> {
    pub(crate) dev: &'a Device<Bound>,
    regs: Regs<'a>,
    pub(crate) coherent: bool,
    pub(crate) caps: SteCaps,
    cmdq: Pin<KBox<Cmdq>>,
    pub(crate) evtq: InQueue,
    pub(crate) priq: Option<InQueue>,
    pub(crate) ratelimit: Pin<KBox<RateLimit>>,
    pub(crate) strtab: Pin<KBox<StreamTable>>,
}

impl<'a> Smmu<'a> {
    /// Allocates the queues and the stream table, then resets and enables the
    /// SMMU (`arm_smmu_device_reset()`). If the reset fails the SMMU is left
    /// disabled before anything is freed.
    pub(crate) fn new(
        dev: &'a Device<Bound>,
        regs: Regs<'a>,
        info: SmmuInfo,
        plat: &Platform,
    ) -> Result<Self> {
        let geom = StrtabGeometry::from_info(&info).map_err(|e| {
            dev_err!(dev, "unusable stream table geometry: {:?}\n", e);
            EINVAL
        })?;
        let cmdq = KBox::pin_init(Cmdq::new(dev, info.cmdq_shift)?, GFP_KERNEL)?;
        let evtq = Coherent::<u64>::zeroed_slice(
            dev,
            (1usize << info.evtq_shift) * EVT_QWORDS,
            GFP_KERNEL,
        )?;
        let evtq = InQueue::events(evtq, Queue::new(info.evtq_shift).ok_or(EINVAL)?);
        let priq = if info.features.contains(Features::PRI) {
            let mem = Coherent::<u64>::zeroed_slice(
                dev,
                (1usize << info.priq_shift) * PRIQ_QWORDS,
                GFP_KERNEL,
            )?;
            Some(InQueue::pri(
                mem,
                Queue::new(info.priq_shift).ok_or(EINVAL)?,
            ))
        } else {
            None
        };
        let strtab = KBox::pin_init(
            StreamTable::new(Some(dev), geom, plat.coherent, &Ste::abort())?,
            GFP_KERNEL,
        )?;
        let mem = ResetMemory {
            cmdq: cmdq.config(),
            evtq: QueueConfig {
                dma: evtq.mem.dma_address(),
                shift: info.evtq_shift,
            },
            priq: priq.as_ref().map(|q| QueueConfig {
                dma: q.mem.dma_address(),
                shift: info.priq_shift,
            }),
            strtab: geom,
            strtab_dma: strtab.phys(),
        };
        let opts = ResetOptions::c_default(regs.read32(ctrl_off::CR0));
        let plan = crate::hw::reset::plan(&info, &mem, &opts).map_err(|e| {
            dev_err!(dev, "cannot program the SMMU: {:?}\n", e);
            EINVAL
        })?;
        let smmu = Self {
            dev,
            regs,
            coherent: plat.coherent,
            caps: SteCaps::from_features(info.features),
            cmdq,
            evtq,
            ratelimit: KBox::pin_init(RateLimit::new(), GFP_KERNEL)?,
            priq,
            strtab,
        };
        // On failure `smmu` is dropped: disabled, then freed.
        reset::reset(dev, &smmu.regs, &smmu.cmdq, &plan)?;
        let (cmds, syncs) = smmu.cmdq.counts();
        let kind = match geom.format() {
            StrtabFormat::Linear => "linear",
            StrtabFormat::TwoLevel => "2-level",
        };
        dev_info!(
            dev,
            "SMMU enabled: {} stream table, {} commands and {} CMD_SYNCs completed\n",
            kind,
            cmds,
            syncs
        );
        Ok(smmu)
    }

    /// Writes `ste` to every StreamID in `sids`, hitless where possible.
    pub(crate) fn install(&self, sids: &[u32], ste: &Ste) -> Result {
        for &sid in sids {
            self.strtab.write(sid, ste, self)?;
        }
        Ok(())
    }

    /// The SMMU's registers.
    pub(crate) fn regs(&self) -> &Regs<'a> {
        &self.regs
    }

    /// Whether `sid` fits the SMMU's StreamID width.
    pub(crate) fn has_sid(&self, sid: u32) -> bool {
        self.strtab.geometry().contains(sid)
    }
}

impl Smmu<'_> {
    /// Issues `cmds`, followed by a CMD_SYNC waited for if `sync`.
    pub(crate) fn issue(&self, cmds: &[Cmd], sync: bool) -> Result {
        self.cmdq.issue(&self.regs, cmds, sync)
    }
}

impl SteSync for Smmu<'_> {
    fn sync_ste(&self, sid: u32) -> Result {
        self.issue(&[Cmd::CfgiSte { sid, leaf: true }], true)
    }
}

impl Drop for Smmu<'_> {
    fn drop(&mut self) {
        // Nothing may reach memory that is about to be freed
        // (`arm_smmu_device_remove()`).
        reset::shutdown(self.dev, &self.regs, &self.cmdq);
    }
}
