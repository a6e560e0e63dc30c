// SPDX-License-Identifier: GPL-2.0

//! One SMMU owned by the driver: its registers, queues and stream table,
//! reset and enabled on creation, disabled with GBPA abort on drop.

use crate::{
    ats::AtsMasters,
    cmdq::{Cmdq, SyncAfter},
    domain::Tag,
    events::{InQueue, EVT_QWORDS},
    hw::{
        cmd::Cmd,
        invs::SmmuId,
        pri::PRIQ_QWORDS,
        queue::Queue,
        regs::{ctrl_off, Features, Platform, SmmuInfo},
        reset::{QueueConfig, ResetMemory, ResetOptions},
        ste::{Ste, SteCaps},
        strtab::{StrtabFormat, StrtabGeometry},
    },
    iommu::MasterState,
    lu,
    mmio::Regs,
    reset,
    strtab::{SteSync, StreamTable},
};
use kernel::{
    bitmap::BitmapVec,
    device::{Bound, Device},
    dma::Coherent,
    prelude::*,
    ratelimit::RateLimit,
    rbtree::{RBTree, RBTreeNode},
    str::{CStr, CString},
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        new_mutex, Arc, Mutex,
    },
};

/// The device behind a StreamID.
pub(crate) struct Stream {
    /// The device's name, for event reports.
    pub(crate) name: CString,
    /// What its STE and CD table point at, for the debugfs decoder.
    pub(crate) state: Arc<Mutex<MasterState>>,
}

/// The devices behind the SMMU, by StreamID (the C driver's `streams`
/// rb-tree): looked up on every event.
type Streams = RBTree<u32, Stream>;

/// An SMMU, enabled, with every StreamID aborting until a device attaches.
///
/// Shared (`Arc`) by the driver's binding, its interrupt handlers and the
/// paging domains, which may outlive the binding (an IOMMU API user can
/// hold a domain). [`Smmu::shutdown`] disables the SMMU when the platform
/// device unbinds; the registers are revoked right after, so late commands
/// fail with `ENODEV` instead of reaching the hardware; the memory goes
/// with the last reference.
pub(crate) struct Smmu {
    dev: ARef<Device>,
    regs: Regs,
    pub(crate) info: SmmuInfo,
    pub(crate) coherent: bool,
    shut_down: Atomic<bool>,
    /// Serialises attach/detach, which update the invalidation arrays of
    /// the domains on this SMMU (`arm_smmu_asid_lock`).
    pub(crate) attach_lock: Pin<KBox<Mutex<()>>>,
    /// The device behind each StreamID.
    streams: Pin<KBox<Mutex<Streams>>>,
    /// Event records consumed.
    pub(crate) events_seen: Atomic<u64>,
    /// Global errors handled (GERROR bits other than CMDQ_ERR).
    pub(crate) gerrors_seen: Atomic<u64>,
    /// The StreamID the debugfs file `ste` shows ([`crate::dump`]).
    pub(crate) debug_sid: Atomic<u32>,
    /// ASIDs of stage-1 domains.
    pub(crate) asids: IdAlloc,
    /// VMIDs of stage-2 domains.
    pub(crate) vmids: IdAlloc,
    pub(crate) caps: SteCaps,
    cmdq: Pin<KBox<Cmdq>>,
    pub(crate) evtq: InQueue,
    pub(crate) priq: Option<InQueue>,
    pub(crate) ratelimit: Pin<KBox<RateLimit>>,
    pub(crate) strtab: Pin<KBox<StreamTable>>,
    /// MMIO base: the SMMU's identity across kexec.
    pub(crate) mmio_base: u64,
    /// Live update asked for in this kernel ([`crate::lu`]).
    pub(crate) lu_request: Pin<KBox<Mutex<Option<lu::Request>>>>,
    /// Translation adopted from the previous kernel ([`crate::lu`]).
    pub(crate) adopted: Pin<KBox<Mutex<Option<lu::Adopted>>>>,
    /// The devices that may use ATS ([`crate::ats`]).
    pub(crate) ats: AtsMasters,
}

/// Probe, streams, shutdown and counters.
impl Smmu {
    /// Allocates the queues and the stream table, then resets and enables the
    /// SMMU (`arm_smmu_device_reset()`). If the reset fails the SMMU is left
    /// disabled before anything is freed.
    /// `combined_irq`: one interrupt line for everything (no MSI registers
    /// to clear).
    pub(crate) fn new(
        dev: &Device<Bound>,
        regs: Regs,
        info: SmmuInfo,
        plat: &Platform,
        combined_irq: bool,
        mmio_base: u64,
    ) -> Result<Self> {
        let geom = StrtabGeometry::from_info(&info).map_err(|e| {
            dev_err!(dev, "unusable stream table geometry: {:?}\n", e);
            EINVAL
        })?;
        let cmdq_shift = match crate::module_parameters::cmdq_shift_max.value() {
            0 => info.cmdq_shift,
            max => {
                let shift = info.cmdq_shift.min(max.max(2));
                dev_warn!(
                    dev,
                    "command queue limited to {} entries (cmdq_shift_max, for tests)\n",
                    1u32 << shift
                );
                shift
            }
        };
        let cmdq = KBox::pin_init(Cmdq::new(dev, cmdq_shift, &info.options)?, GFP_KERNEL)?;
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
        // Everything else that can fail comes before the previous kernel's
        // tables are restored (live update): from then on a failure would
        // free tables the SMMU may still walk.
        let attach_lock = KBox::pin_init(new_mutex!(()), GFP_KERNEL)?;
        let streams = KBox::pin_init(new_mutex!(RBTree::new()), GFP_KERNEL)?;
        let asids = IdAlloc::new(info.asid_bits, "ASID")?;
        let vmids = IdAlloc::new(info.vmid_bits, "VMID")?;
        let ratelimit = KBox::pin_init(RateLimit::new_default(), GFP_KERNEL)?;
        let lu_request = KBox::pin_init(new_mutex!(None), GFP_KERNEL)?;
        let adopted = KBox::pin_init(new_mutex!(None), GFP_KERNEL)?;
        let ats = AtsMasters::new()?;
        let strtab_slot = KBox::<StreamTable>::new_uninit(GFP_KERNEL)?;
        let caps = SteCaps::from_features(info.features);

        let mut spare = KVec::new();
        let adoption = lu::find_adoption(dev, &regs, mmio_base, plat.coherent, &geom, &mut spare);
        if !spare.is_empty() {
            // Refused after restoring some of the previous kernel's
            // tables, which the SMMU may walk: stop it before they go.
            reset::abort_incoming(dev, &regs, &cmdq);
            reset::disable(dev, &regs, &cmdq);
            drop(spare);
        }
        let (strtab, adoption) = match adoption {
            Some((a, tables)) => {
                let init = StreamTable::adopt(geom, tables);
                let strtab = match strtab_slot.write_pin_init(init) {
                    Ok(t) => t,
                    Err(e) => match e {},
                };
                (strtab, Some(a))
            }
            None => {
                let strtab = KBox::pin_init(
                    StreamTable::new(Some(dev), geom, plat.coherent, &Ste::abort())?,
                    GFP_KERNEL,
                )?;
                install_rmr_bypass(dev, &strtab, &caps);
                (strtab, None)
            }
        };
        if let Some(a) = adoption.as_ref() {
            for tag in a.tags() {
                match tag {
                    Tag::Asid(t) => asids.reserve(t),
                    Tag::Vmid(t) => vmids.reserve(t),
                }
            }
        }
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
        let opts = ResetOptions {
            combined_irq,
            page0_regs_only: info.options.page0_regs_only,
            // Devices of the crashed kernel may still be doing DMA: their
            // faults are not logged (as C).
            kdump: kernel::crash_dump::is_kdump_kernel(),
            adopt: adoption.is_some(),
            ..ResetOptions::c_default(regs.read32(ctrl_off::CR0))
        };
        let smmu = Self {
            dev: dev.into(),
            regs,
            info,
            coherent: plat.coherent,
            mmio_base,
            shut_down: Atomic::new(false),
            attach_lock,
            streams,
            events_seen: Atomic::new(0),
            gerrors_seen: Atomic::new(0),
            debug_sid: Atomic::new(0),
            asids,
            vmids,
            caps,
            cmdq,
            evtq,
            ratelimit,
            priq,
            strtab,
            lu_request,
            adopted,
            ats,
        };
        let plan = crate::hw::reset::plan(&smmu.info, &mem, &opts).map_err(|e| {
            dev_err!(dev, "cannot program the SMMU: {:?}\n", e);
            EINVAL
        })?;
        // On failure `smmu` is dropped: disabled, then freed.
        reset::reset(dev, &smmu.regs, &smmu.cmdq, &plan)?;
        if let Some(a) = adoption {
            *smmu.adopted.lock() = Some(a.into_adopted(&smmu.strtab));
            smmu.install_rmr_bypass_live();
            dev_info!(dev, "live update: adopted the translating SMMU\n");
        }
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

    /// Writes `ste` to every StreamID in `sids`, hitless where possible,
    /// all of them even if a sync fails ([`StreamTable::install`]).
    pub(crate) fn install(&self, sids: &[u32], ste: &Ste) -> Result {
        self.strtab.install(sids, ste, self)
    }

    /// The SMMU's registers.
    pub(crate) fn regs(&self) -> &Regs {
        &self.regs
    }

    /// The SMMU's platform device.
    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// Disables the SMMU and makes incoming transactions abort, once; called
    /// when the platform device unbinds, after every device behind the SMMU
    /// was released (`arm_smmu_device_remove()`).
    pub(crate) fn shutdown(&self) {
        self.ats_quiesce();
        if !self.shut_down.xchg(true, Relaxed) {
            reset::disable(&self.dev, &self.regs, &self.cmdq);
            reset::abort_incoming(&self.dev, &self.regs, &self.cmdq);
        }
    }

    /// Stops (`on` false) or starts the SMMU's interrupts (IRQ_CTRL);
    /// whether the SMMU acknowledged.
    pub(crate) fn set_irqs(&self, on: bool) -> bool {
        reset::set_irq_ctrl(
            &self.dev,
            &self.regs,
            &self.cmdq,
            on.then_some(self.info.features),
        )
    }

    /// Disables the SMMU (CR0 = 0) and refuses later commands, at reboot,
    /// power-off or kexec (`arm_smmu_device_shutdown()`). GBPA is left as
    /// firmware set it, as C leaves it.
    pub(crate) fn disable(&self) {
        if !self.shut_down.xchg(true, Relaxed) {
            reset::disable(&self.dev, &self.regs, &self.cmdq);
        }
    }

    /// Records that the StreamIDs `sids` (distinct) belong to the device
    /// called `name`, whose state is `state`: all of them, or, if one
    /// already belongs to another device, none, and returns that StreamID
    /// and the other device's name.
    pub(crate) fn add_streams(
        &self,
        sids: &[u32],
        name: &CStr,
        state: &Arc<Mutex<MasterState>>,
    ) -> Result<Option<(u32, CString)>> {
        // Allocate first: nothing fails once the tree changes.
        let mut nodes = KVec::with_capacity(sids.len(), GFP_KERNEL)?;
        for &sid in sids {
            let stream = Stream {
                name: CString::try_from_fmt(fmt!("{name}"))?,
                state: state.clone(),
            };
            nodes.push(RBTreeNode::new(sid, stream, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut streams = self.streams.lock();
        if let Some((sid, other)) = sids.iter().find_map(|s| Some((*s, streams.get(s)?))) {
            return Ok(Some((
                sid,
                CString::try_from_fmt(fmt!("{}", &*other.name))?,
            )));
        }
        for node in nodes {
            streams.insert(node);
        }
        Ok(None)
    }

    /// Forgets the StreamIDs in `sids`.
    pub(crate) fn remove_streams(&self, sids: &[u32]) {
        let mut streams = self.streams.lock();
        for sid in sids {
            streams.remove(sid);
        }
    }

    /// Calls `f` with the name of the device behind `sid`, if known.
    pub(crate) fn with_stream_name<R>(&self, sid: u32, f: impl FnOnce(Option<&str>) -> R) -> R {
        let streams = self.streams.lock();
        f(streams.get(&sid).and_then(|s| s.name.to_str().ok()))
    }

    /// The StreamIDs of the device called `name`.
    pub(crate) fn sids_of(&self, name: &str) -> Result<KVec<u32>> {
        let streams = self.streams.lock();
        let mut v = KVec::new();
        for (sid, s) in streams.iter() {
            if s.name.to_bytes() == name.as_bytes() {
                v.push(*sid, GFP_KERNEL)?;
            }
        }
        Ok(v)
    }

    /// Calls `f` with every StreamID in order, its device's name and state.
    /// `f` runs under the lock of the StreamID tree; it may take a
    /// device's state lock (never held while taking the tree's).
    pub(crate) fn for_each_stream(
        &self,
        mut f: impl FnMut(u32, &Stream) -> core::fmt::Result,
    ) -> core::fmt::Result {
        let streams = self.streams.lock();
        for (sid, s) in streams.iter() {
            f(*sid, s)?;
        }
        Ok(())
    }

    /// Counters of what the SMMU was told and reported.
    pub(crate) fn counters(&self) -> Counters {
        let (commands, syncs) = self.cmdq.counts();
        Counters {
            commands,
            syncs,
            command_errors: self.cmdq.errors(),
            events: self.events_seen.load(Relaxed),
            global_errors: self.gerrors_seen.load(Relaxed),
        }
    }

    /// STRTAB_BASE as programmed.
    pub(crate) fn strtab_base(&self) -> u64 {
        self.strtab.geometry().base(self.strtab.phys()).unwrap_or(0)
    }

    /// Live update: stops the queues and interrupts, leaves translation on
    /// (CR0 = `keep`), and refuses later commands.
    pub(crate) fn stop_queues(&self, keep: u32) -> Result {
        reset::stop_queues(&self.dev, &self.regs, &self.cmdq, keep)?;
        self.set_irqs(false);
        self.shut_down.store(true, Relaxed);
        Ok(())
    }

    /// Live update, after adopting the stream table: the IORT RMRs'
    /// StreamIDs bypass again (the previous kernel set them to abort).
    fn install_rmr_bypass_live(&self) {
        let Some(fwnode) = self.dev.fwnode() else {
            return;
        };
        let mut sids = KVec::new();
        kernel::iommu::iort::for_each_rmr_sid(fwnode, |sid| {
            let _ = sids.push(sid, GFP_KERNEL);
        });
        sids.retain(|sid| self.strtab.geometry().contains(*sid));
        let bypass = Ste::bypass(&self.caps);
        for &sid in sids.iter() {
            if let Err(e) = self
                .strtab
                .ensure(None, sid, &Ste::abort())
                .and_then(|()| self.install(&[sid], &bypass))
            {
                dev_err!(self.dev, "RMR SID({:#x}) bypass failed: {:?}\n", sid, e);
            }
        }
    }

    /// The SMMU's identity in invalidation arrays (C compares the
    /// `arm_smmu_device` pointers): its MMIO base, unique among SMMUs.
    pub(crate) fn id(&self) -> SmmuId {
        SmmuId(self.mmio_base as usize)
    }

    /// Whether `sid` fits the SMMU's StreamID width.
    pub(crate) fn has_sid(&self, sid: u32) -> bool {
        self.strtab.geometry().contains(sid)
    }
}

/// What [`Smmu::counters`] returns.
pub(crate) struct Counters {
    /// Commands issued, CMD_SYNCs excluded.
    pub(crate) commands: u64,
    /// CMD_SYNCs issued.
    pub(crate) syncs: u64,
    /// Command errors (CMDQ_ERR) handled.
    pub(crate) command_errors: u64,
    /// Event records consumed.
    pub(crate) events: u64,
    /// Other global errors handled.
    pub(crate) global_errors: u64,
}

/// The command queue.
impl Smmu {
    /// Issues `cmds`, followed by a CMD_SYNC waited for if `sync`;
    /// `ENODEV` once the SMMU is shut down.
    pub(crate) fn issue(&self, cmds: &[Cmd], sync: bool) -> Result {
        let sync = if sync {
            SyncAfter::Always
        } else {
            SyncAfter::Never
        };
        self.issue_with(sync, |push| cmds.iter().try_for_each(push))
    }

    /// Issues the commands `fill` pushes straight into the command queue,
    /// then a CMD_SYNC as `sync` says ([`Cmdq::issue_with`]); `ENODEV` once
    /// the SMMU is shut down.
    pub(crate) fn issue_with(
        &self,
        sync: SyncAfter,
        fill: impl FnOnce(&mut dyn FnMut(&Cmd) -> Result) -> Result,
    ) -> Result {
        if self.shut_down.load(Relaxed) {
            return Err(ENODEV);
        }
        let regs = self.regs.access().ok_or(ENODEV)?;
        let Some(dead) = crate::ats::test_timeout_sid() else {
            return self.cmdq.issue_with(&regs, sync, fill);
        };
        // Only with the test-only `ats_test_timeout_sid` set.
        let mut timeout = false;
        self.cmdq.issue_with(&regs, sync, |push| {
            fill(&mut |cmd: &Cmd| {
                self.test_atc_timeout(cmd, dead, &mut timeout);
                push(cmd)
            })
        })?;
        if timeout && sync != SyncAfter::Never {
            return Err(crate::cmdq::ATC_TIMEOUT);
        }
        Ok(())
    }

    /// Acknowledges the global errors of `bits` still active
    /// ([`Cmdq::ack_gerrors`]).
    pub(crate) fn ack_gerrors(&self, regs: &crate::mmio::RegsGuard<'_>, bits: u32) {
        self.cmdq.ack_gerrors(regs, bits);
    }
}

impl SteSync for Smmu {
    fn sync_ste(&self, sid: u32) -> Result {
        self.issue(&[Cmd::CfgiSte { sid, leaf: true }], true)
    }
}

/// Makes the StreamIDs of the IORT's RMRs bypass translation from the
/// moment the SMMU is enabled: firmware left their devices doing DMA to
/// reserved memory (`arm_smmu_rmr_install_bypass_ste()`). The table is not
/// live yet. A StreamID that does not fit is logged and skipped, as in C.
fn install_rmr_bypass(dev: &Device<Bound>, strtab: &StreamTable, caps: &SteCaps) {
    let Some(fwnode) = dev.fwnode() else {
        return;
    };
    let mut sids = KVec::new();
    let mut lost = false;
    kernel::iommu::iort::for_each_rmr_sid(fwnode, |sid| {
        lost |= sids.push(sid, GFP_KERNEL).is_err();
    });
    if lost {
        dev_err!(
            dev,
            "out of memory for the RMR StreamIDs: some will not bypass\n"
        );
    }
    let bypass = Ste::bypass(caps);
    for sid in sids {
        let r = if strtab.geometry().contains(sid) {
            strtab
                .ensure(Some(dev), sid, &Ste::abort())
                .and_then(|()| strtab.init_entry(sid, &bypass))
        } else {
            Err(ERANGE)
        };
        if r.is_err() {
            dev_err!(dev, "RMR SID({:#x}) bypass failed\n", sid);
        }
    }
}

/// An allocator of ASIDs or VMIDs: `1..1 << bits`, 0 being reserved as in
/// C (VMID 0 is the one of stage-2 bypass STEs).
pub(crate) struct IdAlloc {
    map: Pin<KBox<Mutex<BitmapVec>>>,
    what: &'static str,
}

impl IdAlloc {
    fn new(bits: u32, what: &'static str) -> Result<Self> {
        let map = BitmapVec::new(1 << bits.min(16), GFP_KERNEL)?;
        Ok(Self {
            map: KBox::pin_init(new_mutex!(map), GFP_KERNEL)?,
            what,
        })
    }

    /// A free ID, now in use; `ENOSPC`, logged against `dev`, when all
    /// are taken.
    pub(crate) fn alloc(&self, dev: &Device) -> Result<u16> {
        let mut map = self.map.lock();
        let id = map.next_zero_bit(1).ok_or_else(|| {
            dev_warn!(dev, "out of {}s\n", self.what);
            ENOSPC
        })?;
        let id16 = u16::try_from(id).map_err(|_| ENOSPC)?;
        map.set_bit(id);
        Ok(id16)
    }

    /// Marks `id` in use (a tag the previous kernel's preserved domain
    /// still uses, live update).
    pub(crate) fn reserve(&self, id: u16) {
        let mut map = self.map.lock();
        if usize::from(id) < map.len() {
            map.set_bit(usize::from(id));
        }
    }

    /// Returns `id` to the pool.
    pub(crate) fn free(&self, id: u16) {
        let mut map = self.map.lock();
        if usize::from(id) < map.len() {
            map.clear_bit(usize::from(id));
        }
    }
}

impl Drop for Smmu {
    fn drop(&mut self) {
        // Nothing may reach memory that is about to be freed; a no-op if
        // already shut down (unbind does it, with GBPA abort). Otherwise
        // the probe failed after the reset: as C's probe failure path
        // (`arm_smmu_disable_action()`), only CR0 is cleared, so the devices
        // behind the SMMU, which no domain was attached to, come up
        // untranslated after the deferred-probe timeout instead of aborting.
        self.disable();
    }
}

/// The MSI controller's messages go into the SMMU's IRQ_CFG registers.
impl kernel::platform_msi::MsiWriter for Smmu {
    fn write_msi_msg(&self, index: u32, msg: kernel::platform_msi::MsiMsg) {
        reset::write_msi_msg(&self.dev, &self.regs, &self.cmdq, index, msg)
    }
}
