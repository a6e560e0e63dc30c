// SPDX-License-Identifier: GPL-2.0

//! The reset sequence of `arm_smmu_device_reset()` as data.
//!
//! [`plan`] turns the decoded SMMU, the queues' and stream table's DMA
//! addresses and a few options into the ordered [`Step`]s the C driver
//! performs: register writes, waits for an acknowledgment, commands, and
//! the point where interrupts are set up. [`execute`] runs a plan against
//! anything implementing [`ResetIo`] (MMIO in the driver, a register-file
//! model in the tests) with C's error handling: which timeouts fail the
//! reset and which are only logged.
//!
//! The register values are C's: CR1 is inner/outer write-back, inner
//! shareable for tables and queues whatever the SMMU's coherency (7.3 has
//! no non-coherent variant: a non-coherent SMMU does not snoop, so the
//! attributes only matter to coherent ones and tables are cleaned to the
//! point of coherency by software instead).

use super::cmd::Cmd;
use super::event::Severity;
use super::queue::MAX_SHIFT;
use super::regs::{
    cr0, cr1, cr2, ctrl_off as off, gbpa, irq_ctrl, msi_cfg, q_base, Features, SmmuInfo,
    CMDQ_ENT_SZ_SHIFT, EVTQ_ENT_SZ_SHIFT, PRIQ_ENT_SZ_SHIFT, SH_ISH,
};
use super::strtab::{StrtabError, StrtabGeometry};

/// One of the SMMU's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// The command queue (16-byte entries, registers in page 0).
    Cmd,
    /// The event queue (32-byte entries, PROD/CONS in page 1).
    Evt,
    /// The PRI queue (16-byte entries, PROD/CONS in page 1).
    Pri,
}

impl QueueKind {
    /// log2 of the entry size in bytes.
    pub const fn ent_shift(self) -> u32 {
        match self {
            Self::Cmd => CMDQ_ENT_SZ_SHIFT,
            Self::Evt => EVTQ_ENT_SZ_SHIFT,
            Self::Pri => PRIQ_ENT_SZ_SHIFT,
        }
    }

    /// Offset of the `*_BASE` register.
    pub const fn base_off(self) -> usize {
        match self {
            Self::Cmd => off::CMDQ_BASE,
            Self::Evt => off::EVTQ_BASE,
            Self::Pri => off::PRIQ_BASE,
        }
    }

    /// Offset of the `*_PROD` register; page 1 unless `page0_only`.
    pub const fn prod_off(self, page0_only: bool) -> usize {
        match self {
            Self::Cmd => off::CMDQ_PROD,
            Self::Evt => off::page1(off::EVTQ_PROD, page0_only),
            Self::Pri => off::page1(off::PRIQ_PROD, page0_only),
        }
    }

    /// Offset of the `*_CONS` register; page 1 unless `page0_only`.
    pub const fn cons_off(self, page0_only: bool) -> usize {
        match self {
            Self::Cmd => off::CMDQ_CONS,
            Self::Evt => off::page1(off::EVTQ_CONS, page0_only),
            Self::Pri => off::page1(off::PRIQ_CONS, page0_only),
        }
    }

    /// Bytes of a queue of `1 << shift` entries, `None` past
    /// [`MAX_SHIFT`].
    pub const fn bytes(self, shift: u32) -> Option<u64> {
        if shift > MAX_SHIFT {
            None
        } else {
            Some((1u64 << shift) << self.ent_shift())
        }
    }

    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The next size `arm_smmu_init_one_queue()` tries when an allocation
    /// of `1 << shift` entries fails: one shift smaller while the queue is
    /// bigger than a page, else `None` (the probe fails).
    pub const fn retry_shift(self, shift: u32, page_size: u64) -> Option<u32> {
        match self.bytes(shift) {
            Some(b) if b > page_size && shift > 0 => Some(shift - 1),
            _ => None,
        }
    }

    /// The `*_BASE` value for a queue of `1 << shift` entries at `dma`
    /// (`arm_smmu_init_one_queue()`: `Q_BASE_RWA | dma & Q_BASE_ADDR_MASK |
    /// LOG2SIZE`). C only warns about a misaligned queue; here an address
    /// that does not fit ADDR or is not aligned to the queue's size is an
    /// error.
    pub const fn base(self, dma: u64, shift: u32) -> Result<u64, QueueError> {
        let bytes = match self.bytes(shift) {
            Some(b) => b,
            None => return Err(QueueError::Shift(shift)),
        };
        let a = dma & q_base::ADDR.mask();
        if a != dma || dma & (bytes - 1) != 0 {
            return Err(QueueError::BadAddress(dma));
        }
        Ok(q_base::RWA | a | q_base::LOG2SIZE.prep(shift as u64))
    }
}

/// Why a queue cannot be programmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// More entries than the model supports ([`MAX_SHIFT`]).
    Shift(u32),
    /// The address does not fit Q_BASE.ADDR or is not aligned to the
    /// queue's size.
    BadAddress(u64),
}

/// A queue's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// DMA address of the entries.
    pub dma: u64,
    /// log2 of the number of entries.
    pub shift: u32,
}

/// CR1: tables and queues inner and outer write-back, inner shareable.
pub const fn cr1_value() -> u32 {
    (cr1::TABLE_SH.prep(SH_ISH)
        | cr1::TABLE_OC.prep(cr1::CACHE_WB)
        | cr1::TABLE_IC.prep(cr1::CACHE_WB)
        | cr1::QUEUE_SH.prep(SH_ISH)
        | cr1::QUEUE_OC.prep(cr1::CACHE_WB)
        | cr1::QUEUE_IC.prep(cr1::CACHE_WB)) as u32
}

/// CR2: private TLB maintenance, record invalid StreamIDs, and E2H when
/// the kernel runs at EL2 with VHE (`ARM_SMMU_FEAT_E2H`).
pub const fn cr2_value(f: Features) -> u32 {
    let e2h = if f.contains(Features::E2H) {
        cr2::E2H
    } else {
        0
    };
    cr2::PTM | cr2::RECINVSID | e2h
}

/// IRQ_CTRL with the event queue and global error interrupts, and the PRI
/// queue's when the SMMU has PRI (`arm_smmu_setup_irqs()`).
pub const fn irq_ctrl_value(f: Features) -> u32 {
    let pri = if f.contains(Features::PRI) {
        irq_ctrl::PRIQ_IRQEN
    } else {
        0
    };
    irq_ctrl::EVTQ_IRQEN | irq_ctrl::GERROR_IRQEN | pri
}

/// The value `arm_smmu_update_gbpa()` writes over `cur`.
pub const fn gbpa_update_value(cur: u32, set: u32, clr: u32) -> u32 {
    (cur & !clr) | set | gbpa::UPDATE
}

/// What incoming transactions do while the SMMU is disabled during the
/// reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GbpaPolicy {
    /// C's behaviour: when the SMMU was enabled, set GBPA.ABORT before
    /// disabling it (warning "SMMU currently enabled! Resetting..."), else
    /// leave GBPA as firmware set it.
    AbortIfEnabled,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Always set GBPA.ABORT first.
    Abort,
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// Always clear GBPA.ABORT first: bypass while disabled.
    Bypass,
}

/// Options of the reset besides the SMMU and its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetOptions {
    /// CR0 as read before the reset.
    pub cr0: u32,
    /// GBPA handling.
    pub gbpa: GbpaPolicy,
    /// One interrupt line for everything (`smmu->combined_irq`): no MSI
    /// registers are cleared.
    pub combined_irq: bool,
    /// Page 1 is aliased to page 0 (`ARM_SMMU_OPT_PAGE0_REGS_ONLY`).
    pub page0_regs_only: bool,
    /// A kdump kernel: the event and PRI queues stay disabled.
    pub kdump: bool,
    /// Live update: adopt the SMMU the previous kernel left enabled with
    /// its stream table ([`crate::hw::lu`]) instead of resetting it.
    pub adopt: bool,
}

impl ResetOptions {
    /// C's options for an SMMU whose CR0 reads `cr0`.
    pub const fn c_default(cr0: u32) -> Self {
        Self {
            cr0,
            gbpa: GbpaPolicy::AbortIfEnabled,
            combined_irq: false,
            page0_regs_only: false,
            kdump: false,
            adopt: false,
        }
    }
}

/// The memory the SMMU is pointed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetMemory {
    /// Command queue.
    pub cmdq: QueueConfig,
    /// Event queue.
    pub evtq: QueueConfig,
    /// PRI queue; needed when the SMMU has PRI, ignored otherwise.
    pub priq: Option<QueueConfig>,
    /// Stream table geometry.
    pub strtab: StrtabGeometry,
    /// DMA address of the stream table (linear, or level 1).
    pub strtab_dma: u64,
}

/// What a timed-out wait means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// The reset fails with this message (`dev_err` + error return).
    Fail(&'static str),
    /// Only this warning is logged.
    Warn(&'static str),
}

/// One step of the reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Log a warning.
    Warn(&'static str),
    /// `arm_smmu_update_gbpa(set, clr)`: wait for GBPA.UPDATE to clear,
    /// write [`gbpa_update_value`], wait again (a timeout only logs
    /// "GBPA not responding to update").
    UpdateGbpa {
        /// Bits to set.
        set: u32,
        /// Bits to clear.
        clr: u32,
    },
    /// 32-bit register write.
    Write32 {
        /// Register offset.
        off: usize,
        /// Value.
        val: u32,
    },
    /// 64-bit register write.
    Write64 {
        /// Register offset.
        off: usize,
        /// Value.
        val: u64,
    },
    /// Poll a 32-bit register until it equals `val`
    /// (`arm_smmu_write_reg_sync()`'s second half, 1 s timeout).
    Poll {
        /// Register offset (CR0ACK, IRQ_CTRLACK).
        off: usize,
        /// Expected value.
        val: u32,
        /// What a timeout means.
        on_timeout: OnTimeout,
    },
    /// Issue a command, followed by a CMD_SYNC waited for when `sync`
    /// (`arm_smmu_cmdq_issue_cmd_with_sync()`). Failures are not fatal, as
    /// in C (the queue code logs them).
    Command {
        /// The command.
        cmd: Cmd,
        /// Followed by a CMD_SYNC.
        sync: bool,
    },
    /// Request the interrupt lines, and allocate and program MSIs if any
    /// (the middle of `arm_smmu_setup_irqs()`; see [`msi_writes`]).
    SetupIrqs,
}

/// Why no plan could be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetError {
    /// A queue cannot be programmed.
    Queue(QueueKind, QueueError),
    /// The stream table cannot be programmed.
    Strtab(StrtabError),
    /// The SMMU has PRI but no PRI queue was given.
    NoPriq,
    /// Adoption was asked for an SMMU that is not enabled.
    AdoptDisabled,
}

/// Most steps a plan has.
pub const MAX_STEPS: usize = 40;

/// An ordered reset sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetPlan {
    steps: [Step; MAX_STEPS],
    len: usize,
}

impl ResetPlan {
    const fn new() -> Self {
        Self {
            steps: [Step::SetupIrqs; MAX_STEPS],
            len: 0,
        }
    }

    fn push(&mut self, s: Step) {
        // MAX_STEPS covers the longest plan (checked by the tests).
        if let Some(slot) = self.steps.get_mut(self.len) {
            *slot = s;
            self.len += 1;
        }
    }

    /// `arm_smmu_write_reg_sync()`: write, then wait for the ack.
    fn write_sync(&mut self, off: usize, ack: usize, val: u32, on_timeout: OnTimeout) {
        self.push(Step::Write32 { off, val });
        self.push(Step::Poll {
            off: ack,
            val,
            on_timeout,
        });
    }

    /// `*_BASE`, then PROD and CONS = 0: C writes its `llq.prod`/`cons`,
    /// which are 0 after `arm_smmu_init_one_queue()`; the driver's queue
    /// state must start empty too.
    fn queue(&mut self, kind: QueueKind, q_base: u64, page0_only: bool) {
        self.push(Step::Write64 {
            off: kind.base_off(),
            val: q_base,
        });
        self.push(Step::Write32 {
            off: kind.prod_off(page0_only),
            val: 0,
        });
        self.push(Step::Write32 {
            off: kind.cons_off(page0_only),
            val: 0,
        });
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        self.steps.get(..self.len).unwrap_or(&[])
    }
}

fn q_base(kind: QueueKind, q: &QueueConfig) -> Result<u64, ResetError> {
    kind.base(q.dma, q.shift)
        .map_err(|e| ResetError::Queue(kind, e))
}

/// The steps of `arm_smmu_device_reset()` (7.3) for `info`, in C's order:
///
/// 1. GBPA.ABORT if the SMMU was enabled (per [`GbpaPolicy`]);
/// 2. CR0 = 0, wait for CR0ACK;
/// 3. CR1, CR2, STRTAB_BASE, STRTAB_BASE_CFG;
/// 4. command queue base/prod/cons, CR0 = CMDQEN;
/// 5. CFGI_ALL, TLBI_EL2_ALL (with HYP), TLBI_NSNH_ALL, each synced;
/// 6. event queue, + EVTQEN; PRI queue, + PRIQEN (with PRI);
///    + ATSCHK (with ATS);
/// 7. IRQ_CTRL = 0, clear the MSI addresses, set up interrupts,
///    IRQ_CTRL = enables;
/// 8. + SMMUEN (in a kdump kernel without EVTQEN and PRIQEN).
pub fn plan(
    info: &SmmuInfo,
    mem: &ResetMemory,
    opts: &ResetOptions,
) -> Result<ResetPlan, ResetError> {
    let f = info.features;
    let pri = f.contains(Features::PRI);
    let p0 = opts.page0_regs_only;
    let cmdq = q_base(QueueKind::Cmd, &mem.cmdq)?;
    let evtq = q_base(QueueKind::Evt, &mem.evtq)?;
    let priq = match (pri, mem.priq) {
        (false, _) => None,
        (true, Some(q)) => Some(q_base(QueueKind::Pri, &q)?),
        (true, None) => return Err(ResetError::NoPriq),
    };
    let strtab_base = mem
        .strtab
        .base(mem.strtab_dma)
        .map_err(ResetError::Strtab)?;

    let mut p = ResetPlan::new();
    let cr0_sync = |p: &mut ResetPlan, val: u32, msg: &'static str| {
        p.write_sync(off::CR0, off::CR0ACK, val, OnTimeout::Fail(msg));
    };

    let enabled = opts.cr0 & cr0::SMMUEN != 0;
    if opts.adopt {
        if !enabled {
            return Err(ResetError::AdoptDisabled);
        }
        return Ok(adopt_plan(f, cmdq, evtq, priq, opts));
    }
    if enabled {
        p.push(Step::Warn("SMMU currently enabled! Resetting..."));
    }
    match opts.gbpa {
        GbpaPolicy::AbortIfEnabled if !enabled => {}
        GbpaPolicy::AbortIfEnabled => p.push(Step::UpdateGbpa {
            set: gbpa::ABORT,
            clr: 0,
        }),
        #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
        GbpaPolicy::Abort => p.push(Step::UpdateGbpa {
            set: gbpa::ABORT,
            clr: 0,
        }),
        #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
        GbpaPolicy::Bypass => p.push(Step::UpdateGbpa {
            set: 0,
            clr: gbpa::ABORT,
        }),
    }
    cr0_sync(&mut p, 0, "failed to clear cr0");

    p.push(Step::Write32 {
        off: off::CR1,
        val: cr1_value(),
    });
    p.push(Step::Write32 {
        off: off::CR2,
        val: cr2_value(f),
    });
    p.push(Step::Write64 {
        off: off::STRTAB_BASE,
        val: strtab_base,
    });
    p.push(Step::Write32 {
        off: off::STRTAB_BASE_CFG,
        val: mem.strtab.base_cfg(),
    });

    p.queue(QueueKind::Cmd, cmdq, p0);
    let mut enables = cr0::CMDQEN;
    cr0_sync(&mut p, enables, "failed to enable command queue");

    for cmd in [Cmd::CfgiAll, Cmd::TlbiEl2All, Cmd::TlbiNsnhAll] {
        if cmd == Cmd::TlbiEl2All && !f.contains(Features::HYP) {
            continue;
        }
        p.push(Step::Command { cmd, sync: true });
    }

    p.queue(QueueKind::Evt, evtq, p0);
    enables |= cr0::EVTQEN;
    cr0_sync(&mut p, enables, "failed to enable event queue");

    if let Some(priq) = priq {
        p.queue(QueueKind::Pri, priq, p0);
        enables |= cr0::PRIQEN;
        cr0_sync(&mut p, enables, "failed to enable PRI queue");
    }

    if f.contains(Features::ATS) {
        enables |= cr0::ATSCHK;
        cr0_sync(&mut p, enables, "failed to enable ATS check");
    }

    irq_steps(&mut p, f, opts);

    if opts.kdump {
        enables &= !(cr0::EVTQEN | cr0::PRIQEN);
    }
    enables |= cr0::SMMUEN;
    cr0_sync(&mut p, enables, "failed to enable SMMU interface");
    Ok(p)
}

/// The steps of adopting an SMMU the previous kernel left translating
/// (live update). Updating STRTAB_BASE, CR1 or CR2 while SMMUEN is set is
/// CONSTRAINED UNPREDICTABLE, and clearing SMMUEN would stop the preserved
/// devices' DMA, so the stream table, CR1, CR2 and GBPA are never written
/// and SMMUEN and ATSCHK stay as found:
///
/// 1. CR0 = SMMUEN|ATSCHK as found, if any queue was still enabled;
/// 2. command queue base/prod/cons, + CMDQEN;
/// 3. CFGI_ALL, TLBI_EL2_ALL (with HYP), TLBI_NSNH_ALL, each synced: the
///    SMMU's caches may hold entries the previous kernel changed last;
/// 4. event queue, + EVTQEN; PRI queue, + PRIQEN (with PRI);
/// 5. interrupts, as in [`plan`].
fn adopt_plan(
    f: Features,
    cmdq: u64,
    evtq: u64,
    priq: Option<u64>,
    opts: &ResetOptions,
) -> ResetPlan {
    let p0 = opts.page0_regs_only;
    let mut p = ResetPlan::new();
    let cr0_sync = |p: &mut ResetPlan, val: u32, msg: &'static str| {
        p.write_sync(off::CR0, off::CR0ACK, val, OnTimeout::Fail(msg));
    };
    let keep = opts.cr0 & (cr0::SMMUEN | cr0::ATSCHK);
    if opts.cr0 != keep {
        cr0_sync(&mut p, keep, "failed to stop the queues");
    }
    p.queue(QueueKind::Cmd, cmdq, p0);
    let mut enables = keep | cr0::CMDQEN;
    cr0_sync(&mut p, enables, "failed to enable command queue");
    for cmd in [Cmd::CfgiAll, Cmd::TlbiEl2All, Cmd::TlbiNsnhAll] {
        if cmd == Cmd::TlbiEl2All && !f.contains(Features::HYP) {
            continue;
        }
        p.push(Step::Command { cmd, sync: true });
    }
    p.queue(QueueKind::Evt, evtq, p0);
    enables |= cr0::EVTQEN;
    cr0_sync(&mut p, enables, "failed to enable event queue");
    if let Some(priq) = priq {
        p.queue(QueueKind::Pri, priq, p0);
        enables |= cr0::PRIQEN;
        cr0_sync(&mut p, enables, "failed to enable PRI queue");
    }
    irq_steps(&mut p, f, opts);
    p
}

/// `arm_smmu_setup_irqs()`: IRQ_CTRL = 0, clear the MSI addresses, set up
/// interrupts, IRQ_CTRL = enables.
fn irq_steps(p: &mut ResetPlan, f: Features, opts: &ResetOptions) {
    p.write_sync(
        off::IRQ_CTRL,
        off::IRQ_CTRLACK,
        0,
        OnTimeout::Fail("failed to disable irqs"),
    );
    if !opts.combined_irq {
        // arm_smmu_setup_msis(): clear the MSI addresses.
        p.push(Step::Write64 {
            off: off::GERROR_IRQ_CFG0,
            val: 0,
        });
        p.push(Step::Write64 {
            off: off::EVTQ_IRQ_CFG0,
            val: 0,
        });
        if f.contains(Features::PRI) {
            p.push(Step::Write64 {
                off: off::PRIQ_IRQ_CFG0,
                val: 0,
            });
        }
    }
    p.push(Step::SetupIrqs);
    p.write_sync(
        off::IRQ_CTRL,
        off::IRQ_CTRLACK,
        irq_ctrl_value(f),
        OnTimeout::Warn("failed to enable irqs"),
    );
}

/// The interrupt sources that may use an MSI (`enum arm_smmu_msi_index`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsiIndex {
    /// Event queue.
    Evtq,
    /// Global errors.
    Gerror,
    /// PRI queue.
    Priq,
}

impl MsiIndex {
    #[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
    /// The vectors in the order C allocates them: the index of each is its
    /// MSI vector.
    pub const ALL: [MsiIndex; 3] = [MsiIndex::Evtq, MsiIndex::Gerror, MsiIndex::Priq];

    /// The MSI vector (`msi_desc::msi_index`) of this source.
    pub const fn vector(self) -> u32 {
        match self {
            MsiIndex::Evtq => 0,
            MsiIndex::Gerror => 1,
            MsiIndex::Priq => 2,
        }
    }

    /// The source MSI vector `v` signals, if any.
    pub const fn from_vector(v: u32) -> Option<Self> {
        match v {
            0 => Some(MsiIndex::Evtq),
            1 => Some(MsiIndex::Gerror),
            2 => Some(MsiIndex::Priq),
            _ => None,
        }
    }

    /// The name of this source's wired interrupt in the firmware
    /// (`interrupt-names` of the DT binding).
    pub const fn wired_name(self) -> &'static core::ffi::CStr {
        match self {
            MsiIndex::Evtq => c"eventq",
            MsiIndex::Gerror => c"gerror",
            MsiIndex::Priq => c"priq",
        }
    }
}

/// How many MSIs an SMMU with `f` needs: the event queue and global
/// errors, and the PRI queue when it has PRI (the command queue's is not
/// used, as in C).
pub const fn msi_vectors(f: Features) -> u32 {
    if f.contains(Features::PRI) {
        3
    } else {
        2
    }
}

/// The writes of `arm_smmu_write_msi_msg()` for `idx`: the doorbell
/// address (bits 51:2) to CFG0, the data to CFG1, Device-nGnRE to CFG2.
pub const fn msi_writes(idx: MsiIndex, doorbell: u64, data: u32) -> [Step; 3] {
    let (c0, c1, c2) = match idx {
        MsiIndex::Evtq => (off::EVTQ_IRQ_CFG0, off::EVTQ_IRQ_CFG1, off::EVTQ_IRQ_CFG2),
        MsiIndex::Gerror => (
            off::GERROR_IRQ_CFG0,
            off::GERROR_IRQ_CFG1,
            off::GERROR_IRQ_CFG2,
        ),
        MsiIndex::Priq => (off::PRIQ_IRQ_CFG0, off::PRIQ_IRQ_CFG1, off::PRIQ_IRQ_CFG2),
    };
    [
        Step::Write64 {
            off: c0,
            val: doorbell & msi_cfg::CFG0_ADDR.mask(),
        },
        Step::Write32 { off: c1, val: data },
        Step::Write32 {
            off: c2,
            val: msi_cfg::MEMATTR_DEVICE_NGNRE,
        },
    ]
}

/// What [`execute`] needs from the SMMU.
pub trait ResetIo {
    /// Reads a 32-bit register.
    fn read32(&mut self, off: usize) -> u32;
    /// Writes a 32-bit register.
    fn write32(&mut self, off: usize, val: u32);
    /// Writes a 64-bit register.
    fn write64(&mut self, off: usize, val: u64);
    /// Reads `off` until `value & mask == want` or the timeout
    /// (`ARM_SMMU_POLL_TIMEOUT_US`) passes; whether it matched.
    fn poll32(&mut self, off: usize, mask: u32, want: u32) -> bool;
    /// Issues `cmd`, then a CMD_SYNC waited for when `sync`.
    fn command(&mut self, cmd: &Cmd, sync: bool);
    /// Requests interrupts ([`Step::SetupIrqs`]).
    fn setup_irqs(&mut self);
    /// Logs a message.
    fn log(&mut self, sev: Severity, msg: &'static str);
}

/// Runs `steps` on `io`. A failing [`OnTimeout::Fail`] wait is logged as an
/// error and ends the reset with its message; everything else goes on, as
/// in C.
pub fn execute<I: ResetIo + ?Sized>(steps: &[Step], io: &mut I) -> Result<(), &'static str> {
    for s in steps {
        match *s {
            Step::Warn(msg) => io.log(Severity::Warn, msg),
            Step::UpdateGbpa { set, clr } => {
                // C ignores arm_smmu_update_gbpa()'s result here.
                if !io.poll32(off::GBPA, gbpa::UPDATE, 0) {
                    continue;
                }
                let cur = io.read32(off::GBPA);
                io.write32(off::GBPA, gbpa_update_value(cur, set, clr));
                if !io.poll32(off::GBPA, gbpa::UPDATE, 0) {
                    io.log(Severity::Err, "GBPA not responding to update");
                }
            }
            Step::Write32 { off, val } => io.write32(off, val),
            Step::Write64 { off, val } => io.write64(off, val),
            Step::Poll {
                off,
                val,
                on_timeout,
            } => {
                if !io.poll32(off, u32::MAX, val) {
                    match on_timeout {
                        OnTimeout::Fail(msg) => {
                            io.log(Severity::Err, msg);
                            return Err(msg);
                        }
                        OnTimeout::Warn(msg) => io.log(Severity::Warn, msg),
                    }
                }
            }
            Step::Command { cmd, sync } => io.command(&cmd, sync),
            Step::SetupIrqs => io.setup_irqs(),
        }
    }
    Ok(())
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::cmd::Opcode;
    use crate::hw::regs::{decode, IdRegs, Platform};
    use crate::hw::selftest::{check, check_eq, failure, Failure, TestResult};

    /// QEMU 10's default SMMU (see `regs::tests`): both stages, 16 SID
    /// bits, 2-level stream table, no HYP, PRI or ATS in its IDR0.
    fn qemu_info(extra_idr0: u32, plat_ats_pri: bool) -> Result<SmmuInfo, Failure> {
        decode(
            &IdRegs {
                idr: [0x0d44_101b | extra_idr0, 0x0273_0010, 0, 0x1414, 0, 0x74],
                iidr: 0,
                aidr: 1,
            },
            &Platform {
                coherent: true,
                of_node: true,
                pci_ats: plat_ats_pri,
                pci_pri: plat_ats_pri,
                vhe: true,
                big_endian: false,
                q_max_sz_shift: 22,
                ..Default::default()
            },
        )
        .map_err(|_| failure!("decode() failed"))
    }

    /// IDR0 bits: PRI (16), ATS (10), HYP (9).
    const IDR0_PRI_ATS_HYP: u32 = (1 << 16) | (1 << 10) | (1 << 9);

    fn mem(info: &SmmuInfo) -> Result<ResetMemory, Failure> {
        Ok(ResetMemory {
            cmdq: QueueConfig {
                dma: 0x4010_0000,
                shift: 8,
            },
            evtq: QueueConfig {
                dma: 0x4020_0000,
                shift: 7,
            },
            priq: Some(QueueConfig {
                dma: 0x4030_0000,
                shift: 6,
            }),
            strtab: StrtabGeometry::from_info(info).map_err(|_| failure!("strtab"))?,
            strtab_dma: 0x4000_0800,
        })
    }

    fn ok_plan(info: &SmmuInfo, m: &ResetMemory, o: &ResetOptions) -> Result<ResetPlan, Failure> {
        plan(info, m, o).map_err(|_| failure!("plan() failed"))
    }

    /// Register values by hand from the C macros.
    pub fn reset_known_answers() -> TestResult {
        // TABLE_SH=ISH (3 << 10) | TABLE_OC=WB (1 << 8) | TABLE_IC=WB
        // (1 << 6) | QUEUE_SH=ISH (3 << 4) | QUEUE_OC=WB (1 << 2) | QUEUE_IC=WB.
        check_eq!(cr1_value(), 0xd75u32);
        check_eq!(cr2_value(Features::default()), 0x6u32);
        check_eq!(cr2_value(Features::E2H.with(Features::HYP)), 0x7u32);
        check_eq!(cr2_value(Features::HYP), 0x6u32);
        check_eq!(irq_ctrl_value(Features::default()), 0x5u32);
        check_eq!(irq_ctrl_value(Features::PRI), 0x7u32);
        // Q_BASE_RWA (bit 62) | address | LOG2SIZE (bits 4:0).
        check!(QueueKind::Cmd.base(0x8_1234_0000, 8) == Ok(0x4000_0008_1234_0008));
        check!(QueueKind::Evt.base(0x4020_0000, 7) == Ok(0x4000_0000_4020_0007));
        check!(QueueKind::Pri.base(0xf_ffff_ffff_fc00, 6) == Ok(0x400f_ffff_ffff_fc06));
        check_eq!(gbpa_update_value(0x0000_1000, 1 << 20, 0), 0x8010_1000u32);
        check_eq!(gbpa_update_value(0x0010_1000, 0, 1 << 20), 0x8000_1000u32);
        let msi = msi_writes(MsiIndex::Gerror, 0xffff_0000_0800_0047, 0x2a);
        check!(
            msi == [
                Step::Write64 {
                    off: 0x68,
                    val: 0x000f_0000_0800_0044
                },
                Step::Write32 {
                    off: 0x70,
                    val: 0x2a
                },
                Step::Write32 { off: 0x74, val: 1 },
            ]
        );
        // Vectors in C's order (`enum arm_smmu_msi_index`), each one
        // programming its own source's registers.
        for (v, idx) in MsiIndex::ALL.iter().enumerate() {
            check_eq!(idx.vector(), v as u32);
            check!(MsiIndex::from_vector(v as u32) == Some(*idx));
        }
        check!(MsiIndex::from_vector(3).is_none());
        check!(MsiIndex::from_vector(u32::MAX).is_none());
        check_eq!(msi_vectors(Features::default()), 2u32);
        check_eq!(msi_vectors(Features::PRI.with(Features::MSI)), 3u32);
        check!(msi_writes(MsiIndex::Evtq, 0, 0)[1] == Step::Write32 { off: 0xb8, val: 0 });
        check!(msi_writes(MsiIndex::Priq, 0, 0)[2] == Step::Write32 { off: 0xdc, val: 1 });
        // Page 1 registers, and their page-0 aliases.
        check_eq!(QueueKind::Evt.prod_off(false), 0x100a8usize);
        check_eq!(QueueKind::Evt.cons_off(false), 0x100acusize);
        check_eq!(QueueKind::Pri.prod_off(false), 0x100c8usize);
        check_eq!(QueueKind::Pri.cons_off(true), 0xccusize);
        check_eq!(QueueKind::Cmd.prod_off(false), 0x98usize);
        check_eq!(QueueKind::Cmd.cons_off(true), 0x9cusize);
        Ok(())
    }

    pub fn reset_queue_sizes() -> TestResult {
        // Tiny: one entry. A 16-byte queue still needs a 32-byte aligned
        // address (Q_BASE.ADDR starts at bit 5).
        check!(QueueKind::Cmd.bytes(0) == Some(16));
        check!(QueueKind::Cmd.base(0x10, 0) == Err(QueueError::BadAddress(0x10)));
        check!(QueueKind::Cmd.base(0x20, 0) == Ok(0x4000_0000_0000_0020));
        check!(QueueKind::Evt.base(0x20, 0) == Ok(0x4000_0000_0000_0020));
        // Huge: 2^30 entries of 32 bytes = 32 GiB, aligned to 32 GiB.
        check!(QueueKind::Evt.bytes(MAX_SHIFT) == Some(1 << 35));
        check!(QueueKind::Evt.base(1 << 35, 30) == Ok(0x4000_0008_0000_001e));
        check!(QueueKind::Evt.base(1 << 34, 30) == Err(QueueError::BadAddress(1 << 34)));
        check!(QueueKind::Cmd.base(0, 31) == Err(QueueError::Shift(31)));
        check!(QueueKind::Cmd.base(0, u32::MAX) == Err(QueueError::Shift(u32::MAX)));
        check!(QueueKind::Cmd.bytes(31).is_none());
        // Beyond 52 bits.
        check!(QueueKind::Cmd.base(1 << 52, 8) == Err(QueueError::BadAddress(1 << 52)));
        // Misaligned for its size: 256 x 16 bytes = 4 KiB.
        check!(QueueKind::Cmd.base(0x4010_0800, 8) == Err(QueueError::BadAddress(0x4010_0800)));
        // The allocation retry of arm_smmu_init_one_queue(), 4K pages.
        check!(QueueKind::Cmd.retry_shift(18, 4096) == Some(17));
        check!(QueueKind::Cmd.retry_shift(9, 4096) == Some(8));
        check!(QueueKind::Cmd.retry_shift(8, 4096).is_none());
        check!(QueueKind::Evt.retry_shift(8, 4096) == Some(7));
        check!(QueueKind::Evt.retry_shift(7, 4096).is_none());
        check!(QueueKind::Evt.retry_shift(0, 0).is_none());
        check!(QueueKind::Pri.retry_shift(40, 4096).is_none());
        Ok(())
    }

    /// QEMU's SMMU, C's options: the exact sequence of
    /// `arm_smmu_device_reset()`, values by hand.
    pub fn reset_sequence_matches_c() -> TestResult {
        let info = qemu_info(0, false)?;
        let m = mem(&info)?;
        let p = ok_plan(&info, &m, &ResetOptions::c_default(0))?;
        let fail = OnTimeout::Fail;
        let expect = [
            Step::Write32 { off: 0x20, val: 0 },
            Step::Poll {
                off: 0x24,
                val: 0,
                on_timeout: fail("failed to clear cr0"),
            },
            Step::Write32 {
                off: 0x28,
                val: 0xd75,
            },
            Step::Write32 { off: 0x2c, val: 6 },
            Step::Write64 {
                off: 0x80,
                val: 0x4000_0000_4000_0800,
            },
            Step::Write32 {
                off: 0x88,
                val: 0x1_0210,
            },
            Step::Write64 {
                off: 0x90,
                val: 0x4000_0000_4010_0008,
            },
            Step::Write32 { off: 0x98, val: 0 },
            Step::Write32 { off: 0x9c, val: 0 },
            Step::Write32 { off: 0x20, val: 8 },
            Step::Poll {
                off: 0x24,
                val: 8,
                on_timeout: fail("failed to enable command queue"),
            },
            Step::Command {
                cmd: Cmd::CfgiAll,
                sync: true,
            },
            Step::Command {
                cmd: Cmd::TlbiNsnhAll,
                sync: true,
            },
            Step::Write64 {
                off: 0xa0,
                val: 0x4000_0000_4020_0007,
            },
            Step::Write32 {
                off: 0x100a8,
                val: 0,
            },
            Step::Write32 {
                off: 0x100ac,
                val: 0,
            },
            Step::Write32 {
                off: 0x20,
                val: 0xc,
            },
            Step::Poll {
                off: 0x24,
                val: 0xc,
                on_timeout: fail("failed to enable event queue"),
            },
            Step::Write32 { off: 0x50, val: 0 },
            Step::Poll {
                off: 0x54,
                val: 0,
                on_timeout: fail("failed to disable irqs"),
            },
            Step::Write64 { off: 0x68, val: 0 },
            Step::Write64 { off: 0xb0, val: 0 },
            Step::SetupIrqs,
            Step::Write32 { off: 0x50, val: 5 },
            Step::Poll {
                off: 0x54,
                val: 5,
                on_timeout: OnTimeout::Warn("failed to enable irqs"),
            },
            Step::Write32 {
                off: 0x20,
                val: 0xd,
            },
            Step::Poll {
                off: 0x24,
                val: 0xd,
                on_timeout: fail("failed to enable SMMU interface"),
            },
        ];
        check_eq!(p.steps().len(), expect.len());
        for (i, (got, want)) in p.steps().iter().zip(expect.iter()).enumerate() {
            if got != want {
                return Err(Failure {
                    left: i as u64,
                    ..failure!("step differs from C's (left: index)")
                });
            }
        }
        Ok(())
    }

    /// Every feature: GBPA abort (SMMU was enabled), TLBI_EL2_ALL, E2H,
    /// PRI queue, ATSCHK, PRIQ MSI cleared, PRIQ_IRQEN; and kdump.
    pub fn reset_sequence_all_features() -> TestResult {
        let info = qemu_info(IDR0_PRI_ATS_HYP, true)?;
        check!(info.features.contains(
            Features::PRI
                .with(Features::ATS)
                .with(Features::HYP)
                .with(Features::E2H)
        ));
        let m = mem(&info)?;
        let p = ok_plan(
            &info,
            &m,
            &ResetOptions::c_default(cr0::SMMUEN | cr0::CMDQEN),
        )?;
        let s = p.steps();
        check_eq!(s.len(), 38usize);
        check!(s.len() <= MAX_STEPS);
        check!(s.first() == Some(&Step::Warn("SMMU currently enabled! Resetting...")));
        check!(
            s.get(1)
                == Some(&Step::UpdateGbpa {
                    set: 1 << 20,
                    clr: 0
                })
        );
        check!(s.get(2) == Some(&Step::Write32 { off: 0x20, val: 0 }));
        check!(s.contains(&Step::Write32 { off: 0x2c, val: 7 }));
        // The commands, in order.
        let mut ops = [0u8; 4];
        let mut n = 0;
        for st in s {
            if let Step::Command { cmd, sync } = st {
                check!(*sync);
                if let Some(o) = ops.get_mut(n) {
                    *o = cmd.opcode() as u8;
                }
                n += 1;
            }
        }
        check_eq!(n, 3usize);
        check!(
            ops == [
                Opcode::CfgiSteRange as u8,
                Opcode::TlbiEl2All as u8,
                Opcode::TlbiNsnhAll as u8,
                0
            ]
        );
        // The CR0 values written, in order.
        let mut cr0s = [0u32; 8];
        let mut n = 0;
        for st in s {
            if let Step::Write32 { off: 0x20, val } = st {
                if let Some(c) = cr0s.get_mut(n) {
                    *c = *val;
                }
                n += 1;
            }
        }
        check_eq!(n, 6usize);
        check!(cr0s == [0, 0x8, 0xc, 0xe, 0x1e, 0x1f, 0, 0]);
        check!(s.contains(&Step::Write64 {
            off: 0xc0,
            val: 0x4000_0000_4030_0006
        }));
        check!(s.contains(&Step::Write32 {
            off: 0x100c8,
            val: 0
        }));
        check!(s.contains(&Step::Write64 { off: 0xd0, val: 0 }));
        check!(s.contains(&Step::Write32 { off: 0x50, val: 7 }));

        // kdump: EVTQEN and PRIQEN dropped before SMMUEN, ATSCHK kept.
        let kd = ResetOptions {
            kdump: true,
            ..ResetOptions::c_default(0)
        };
        let p = ok_plan(&info, &m, &kd)?;
        check!(p.steps().last().is_some_and(|l| matches!(
            l,
            Step::Poll {
                off: 0x24,
                val: 0x19,
                ..
            }
        )));
        // Page 0 only: PROD/CONS at their page-0 offsets.
        let p0 = ResetOptions {
            page0_regs_only: true,
            ..ResetOptions::c_default(0)
        };
        let p = ok_plan(&info, &m, &p0)?;
        check!(p.steps().contains(&Step::Write32 { off: 0xa8, val: 0 }));
        check!(p.steps().contains(&Step::Write32 { off: 0xcc, val: 0 }));
        check!(!p
            .steps()
            .iter()
            .any(|s| matches!(s, Step::Write32 { off, .. } if *off >= 0x1_0000)));
        // Combined IRQ: no MSI address cleared.
        let comb = ResetOptions {
            combined_irq: true,
            ..ResetOptions::c_default(0)
        };
        let p = ok_plan(&info, &m, &comb)?;
        check!(!p.steps().iter().any(|s| matches!(
            s,
            Step::Write64 {
                off: 0x68 | 0xb0 | 0xd0,
                ..
            }
        )));
        // GBPA policies on a disabled SMMU.
        let pol = |g| ResetOptions {
            gbpa: g,
            ..ResetOptions::c_default(0)
        };
        let p = ok_plan(&info, &m, &pol(GbpaPolicy::AbortIfEnabled))?;
        check!(p.steps().first() == Some(&Step::Write32 { off: 0x20, val: 0 }));
        let p = ok_plan(&info, &m, &pol(GbpaPolicy::Abort))?;
        check!(
            p.steps().first()
                == Some(&Step::UpdateGbpa {
                    set: 1 << 20,
                    clr: 0
                })
        );
        let p = ok_plan(&info, &m, &pol(GbpaPolicy::Bypass))?;
        check!(
            p.steps().first()
                == Some(&Step::UpdateGbpa {
                    set: 0,
                    clr: 1 << 20
                })
        );
        Ok(())
    }

    pub fn reset_rejects_bad_memory() -> TestResult {
        let info = qemu_info(IDR0_PRI_ATS_HYP, true)?;
        let m = mem(&info)?;
        let o = ResetOptions::c_default(0);
        let bad_cmdq = ResetMemory {
            cmdq: QueueConfig {
                dma: 0x4010_0010,
                shift: 8,
            },
            ..m
        };
        check!(
            plan(&info, &bad_cmdq, &o)
                == Err(ResetError::Queue(
                    QueueKind::Cmd,
                    QueueError::BadAddress(0x4010_0010)
                ))
        );
        let bad_evtq = ResetMemory {
            evtq: QueueConfig { dma: 0, shift: 40 },
            ..m
        };
        check!(
            plan(&info, &bad_evtq, &o)
                == Err(ResetError::Queue(QueueKind::Evt, QueueError::Shift(40)))
        );
        let no_priq = ResetMemory { priq: None, ..m };
        check!(plan(&info, &no_priq, &o) == Err(ResetError::NoPriq));
        let bad_st = ResetMemory {
            strtab_dma: 0x4000_0400,
            ..m
        };
        check!(
            plan(&info, &bad_st, &o)
                == Err(ResetError::Strtab(StrtabError::BadAddress(0x4000_0400)))
        );
        // Without PRI the PRI queue is not looked at.
        let info = qemu_info(0, false)?;
        let no_pri = ResetMemory {
            priq: Some(QueueConfig { dma: 1, shift: 99 }),
            ..m
        };
        check!(plan(&info, &no_pri, &o).is_ok());
        Ok(())
    }

    /// A register-file model of the SMMU: acknowledges CR0 and IRQ_CTRL,
    /// completes GBPA updates, runs commands only with CMDQEN, and records
    /// every violation of the architecture's programming rules.
    pub struct FakeSmmu {
        regs: [(usize, u64); 40],
        pub ack_stuck: Option<usize>,
        pub gbpa_stuck: bool,
        pub cmds: [(u8, bool); 8],
        pub n_cmds: usize,
        pub irqs_set_up: u32,
        pub violation: Option<&'static str>,
        /// CR0 writes that cleared SMMUEN while it was set.
        pub smmuen_cleared: u32,
        /// GBPA writes.
        pub gbpa_writes: u32,
        pub n_err: u32,
        pub n_warn: u32,
        pub last_log: &'static str,
    }

    impl FakeSmmu {
        pub fn new(cr0: u32, gbpa: u32) -> Self {
            let mut f = Self {
                regs: [(usize::MAX, 0); 40],
                ack_stuck: None,
                gbpa_stuck: false,
                cmds: [(0, false); 8],
                n_cmds: 0,
                irqs_set_up: 0,
                violation: None,
                smmuen_cleared: 0,
                gbpa_writes: 0,
                n_err: 0,
                n_warn: 0,
                last_log: "",
            };
            f.set(off::CR0, u64::from(cr0));
            f.set(off::CR0ACK, u64::from(cr0));
            f.set(off::GBPA, u64::from(gbpa));
            f
        }

        pub fn get(&self, off: usize) -> u64 {
            self.regs.iter().find(|r| r.0 == off).map_or(0, |r| r.1)
        }

        fn set(&mut self, off: usize, val: u64) {
            if let Some(r) = self.regs.iter_mut().find(|r| r.0 == off) {
                r.1 = val;
            } else if let Some(r) = self.regs.iter_mut().find(|r| r.0 == usize::MAX) {
                *r = (off, val);
            } else {
                self.violation = Some("register file full");
            }
        }

        fn ack(&self) -> u32 {
            self.get(off::CR0ACK) as u32
        }

        fn violate(&mut self, cond: bool, what: &'static str) {
            if cond && self.violation.is_none() {
                self.violation = Some(what);
            }
        }

        fn check_write(&mut self, off: usize) {
            let ack = self.ack();
            let smmuen = ack & cr0::SMMUEN != 0;
            match off {
                off::CR1 | off::CR2 | off::STRTAB_BASE | off::STRTAB_BASE_CFG => {
                    self.violate(smmuen, "table config written with SMMUEN set")
                }
                off::CMDQ_BASE | off::CMDQ_PROD | off::CMDQ_CONS => {
                    self.violate(ack & cr0::CMDQEN != 0, "cmdq written while enabled")
                }
                off::EVTQ_BASE | off::EVTQ_PROD | off::EVTQ_CONS => {
                    self.violate(ack & cr0::EVTQEN != 0, "evtq written while enabled")
                }
                off::PRIQ_BASE | off::PRIQ_PROD | off::PRIQ_CONS => {
                    self.violate(ack & cr0::PRIQEN != 0, "priq written while enabled")
                }
                off::GERROR_IRQ_CFG0 | off::EVTQ_IRQ_CFG0 | off::PRIQ_IRQ_CFG0 => {
                    let irq = self.get(off::IRQ_CTRLACK);
                    self.violate(irq != 0, "MSI config written with IRQs enabled")
                }
                _ => {}
            }
        }
    }

    impl ResetIo for FakeSmmu {
        fn read32(&mut self, off: usize) -> u32 {
            self.get(off) as u32
        }

        fn write32(&mut self, off: usize, val: u32) {
            self.check_write(off);
            if off == off::GBPA {
                self.gbpa_writes += 1;
            }
            self.set(off, u64::from(val));
            match off {
                off::CR0 => {
                    let v = u64::from(val);
                    if self.ack() & cr0::SMMUEN != 0 && val & cr0::SMMUEN == 0 {
                        self.smmuen_cleared += 1;
                    }
                    if val & cr0::CMDQEN != 0 {
                        self.violate(self.get(off::CMDQ_BASE) == 0, "CMDQEN without base");
                    }
                    if val & cr0::EVTQEN != 0 {
                        self.violate(self.get(off::EVTQ_BASE) == 0, "EVTQEN without base");
                    }
                    if val & cr0::PRIQEN != 0 {
                        self.violate(self.get(off::PRIQ_BASE) == 0, "PRIQEN without base");
                    }
                    if val & cr0::SMMUEN != 0 {
                        let st = self.get(off::STRTAB_BASE) == 0;
                        self.violate(st, "SMMUEN without stream table");
                    }
                    if self.ack_stuck != Some(off::CR0ACK) {
                        self.set(off::CR0ACK, v);
                    }
                }
                off::IRQ_CTRL if self.ack_stuck != Some(off::IRQ_CTRLACK) => {
                    self.set(off::IRQ_CTRLACK, u64::from(val));
                }
                // A GBPA update completes at once unless stuck.
                off::GBPA if !self.gbpa_stuck => {
                    self.set(off::GBPA, u64::from(val & !gbpa::UPDATE));
                }
                _ => {}
            }
        }

        fn write64(&mut self, off: usize, val: u64) {
            self.check_write(off);
            self.set(off, val);
        }

        fn poll32(&mut self, off: usize, mask: u32, want: u32) -> bool {
            self.get(off) as u32 & mask == want
        }

        fn command(&mut self, cmd: &Cmd, sync: bool) {
            let on = self.ack() & cr0::CMDQEN != 0;
            self.violate(!on, "command with the command queue disabled");
            if let Some(c) = self.cmds.get_mut(self.n_cmds) {
                *c = (cmd.opcode() as u8, sync);
            }
            self.n_cmds += 1;
        }

        fn setup_irqs(&mut self) {
            let irq = self.get(off::IRQ_CTRLACK);
            self.violate(irq != 0, "IRQs requested while enabled");
            self.irqs_set_up += 1;
        }

        fn log(&mut self, sev: Severity, msg: &'static str) {
            match sev {
                Severity::Err => self.n_err += 1,
                Severity::Warn => self.n_warn += 1,
            }
            self.last_log = msg;
        }
    }

    /// The plan run on the register model: no programming rule broken, and
    /// the final registers are the ones C leaves.
    pub fn reset_fake_smmu_final_state() -> TestResult {
        let info = qemu_info(IDR0_PRI_ATS_HYP, true)?;
        let m = mem(&info)?;
        // Firmware left the SMMU enabled, GBPA in bypass.
        let mut hw = FakeSmmu::new(0x1f, 0);
        let p = ok_plan(&info, &m, &ResetOptions::c_default(0x1f))?;
        check!(execute(p.steps(), &mut hw).is_ok());
        check!(hw.violation.is_none());
        check_eq!(hw.get(off::CR0), 0x1fu64);
        check_eq!(hw.get(off::CR0ACK), 0x1fu64);
        check_eq!(hw.get(off::CR1), 0xd75u64);
        check_eq!(hw.get(off::CR2), 0x7u64);
        check_eq!(hw.get(off::GBPA), 0x10_0000u64);
        check_eq!(hw.get(off::STRTAB_BASE), 0x4000_0000_4000_0800u64);
        check_eq!(hw.get(off::STRTAB_BASE_CFG), 0x1_0210u64);
        check_eq!(hw.get(off::CMDQ_BASE), 0x4000_0000_4010_0008u64);
        check_eq!(hw.get(off::EVTQ_BASE), 0x4000_0000_4020_0007u64);
        check_eq!(hw.get(off::PRIQ_BASE), 0x4000_0000_4030_0006u64);
        check_eq!(hw.get(off::IRQ_CTRL), 0x7u64);
        check_eq!(hw.get(off::IRQ_CTRLACK), 0x7u64);
        check_eq!(hw.irqs_set_up, 1u32);
        check_eq!(hw.n_cmds, 3usize);
        check!(hw.cmds[..3] == [(0x04, true), (0x20, true), (0x30, true)]);
        check_eq!(hw.n_warn, 1u32);
        check_eq!(hw.n_err, 0u32);

        // A minimal SMMU (no PRI/ATS/HYP), disabled at boot: GBPA untouched.
        let info = qemu_info(0, false)?;
        let m = mem(&info)?;
        let mut hw = FakeSmmu::new(0, 0x1234);
        let p = ok_plan(&info, &m, &ResetOptions::c_default(0))?;
        check!(execute(p.steps(), &mut hw).is_ok());
        check!(hw.violation.is_none());
        check_eq!(hw.get(off::CR0ACK), 0xdu64);
        check_eq!(hw.get(off::GBPA), 0x1234u64);
        check_eq!(hw.get(off::PRIQ_BASE), 0u64);
        check_eq!(hw.get(off::CR2), 0x6u64);
        check_eq!(hw.n_cmds, 2usize);
        check_eq!(hw.n_warn + hw.n_err, 0u32);

        // The same plans in the wrong order break a rule: enabling the
        // command queue before its base is written, or writing CR1 with
        // the SMMU enabled, is caught by the model.
        let mut hw = FakeSmmu::new(0, 0);
        let bad = [Step::Write32 { off: 0x20, val: 8 }];
        check!(execute(&bad, &mut hw).is_ok());
        check!(hw.violation == Some("CMDQEN without base"));
        let mut hw = FakeSmmu::new(1, 0);
        check!(execute(&[Step::Write32 { off: 0x28, val: 0 }], &mut hw).is_ok());
        check!(hw.violation.is_some());
        Ok(())
    }

    /// Live update: adopting an SMMU the previous kernel left enabled
    /// never clears SMMUEN, never writes GBPA, CR1, CR2 or the stream
    /// table registers, and only programs the queues (stopping any still
    /// running first), invalidates the caches and sets up the interrupts.
    /// The normal reset of the same SMMU does what adoption must not.
    pub fn reset_adopt_keeps_the_smmu_enabled() -> TestResult {
        let info = qemu_info(IDR0_PRI_ATS_HYP, true)?;
        let m = mem(&info)?;
        let found = cr0::SMMUEN | cr0::ATSCHK;
        let old_strtab = 0x4000_0000_7000_0000u64;
        let fresh = |cr0: u32| {
            let mut hw = FakeSmmu::new(cr0, 0);
            hw.set(off::STRTAB_BASE, old_strtab);
            hw.set(off::STRTAB_BASE_CFG, 0x1_0210);
            hw.set(off::CR1, 0xd75);
            hw.set(off::CR2, 0x7);
            hw
        };
        for left in [found, found | cr0::CMDQEN | cr0::EVTQEN] {
            let opts = ResetOptions {
                adopt: true,
                ..ResetOptions::c_default(left)
            };
            let p = ok_plan(&info, &m, &opts)?;
            let mut hw = fresh(left);
            check!(execute(p.steps(), &mut hw).is_ok());
            check!(hw.violation.is_none());
            check_eq!(hw.smmuen_cleared, 0u32);
            check_eq!(hw.gbpa_writes, 0u32);
            check_eq!(hw.get(off::STRTAB_BASE), old_strtab);
            check_eq!(hw.get(off::STRTAB_BASE_CFG), 0x1_0210u64);
            check_eq!(hw.get(off::CR1), 0xd75u64);
            check_eq!(hw.get(off::CR2), 0x7u64);
            check_eq!(hw.get(off::CR0ACK), 0x1fu64);
            check_eq!(hw.get(off::CMDQ_BASE), 0x4000_0000_4010_0008u64);
            check_eq!(hw.get(off::EVTQ_BASE), 0x4000_0000_4020_0007u64);
            check_eq!(hw.get(off::PRIQ_BASE), 0x4000_0000_4030_0006u64);
            check_eq!(hw.n_cmds, 3usize);
            check!(
                hw.cmds[..3]
                    == [
                        (Opcode::CfgiSteRange as u8, true),
                        (Opcode::TlbiEl2All as u8, true),
                        (Opcode::TlbiNsnhAll as u8, true)
                    ]
            );
            check_eq!(hw.irqs_set_up, 1u32);
            check_eq!(hw.get(off::IRQ_CTRL), 0x7u64);
            check_eq!(hw.n_warn, 0u32);
        }
        // The normal reset of that SMMU clears SMMUEN, sets GBPA.ABORT and
        // moves the stream table: what would stop the preserved DMA.
        let p = ok_plan(&info, &m, &ResetOptions::c_default(found))?;
        let mut hw = fresh(found);
        check!(execute(p.steps(), &mut hw).is_ok());
        check_eq!(hw.smmuen_cleared, 1u32);
        check_eq!(hw.gbpa_writes, 1u32);
        check!(hw.get(off::STRTAB_BASE) != old_strtab);
        // A disabled SMMU has nothing to adopt.
        let opts = ResetOptions {
            adopt: true,
            ..ResetOptions::c_default(0)
        };
        check!(plan(&info, &m, &opts) == Err(ResetError::AdoptDisabled));
        Ok(())
    }

    /// Timeouts: a fatal one stops the reset with C's message, the IRQ
    /// enable and GBPA ones only log.
    pub fn reset_fake_smmu_timeouts() -> TestResult {
        let info = qemu_info(IDR0_PRI_ATS_HYP, true)?;
        let m = mem(&info)?;
        let p = ok_plan(&info, &m, &ResetOptions::c_default(0x1f))?;

        let mut hw = FakeSmmu::new(0x1f, 0);
        hw.ack_stuck = Some(off::CR0ACK);
        check!(execute(p.steps(), &mut hw) == Err("failed to clear cr0"));
        check_eq!(hw.n_err, 1u32);
        check_eq!(hw.n_cmds, 0usize);

        let mut hw = FakeSmmu::new(0x1f, 0);
        hw.ack_stuck = Some(off::IRQ_CTRLACK);
        // IRQ_CTRLACK reads 0 already, so disabling "succeeds"; enabling
        // times out with a warning and the SMMU is still enabled.
        check!(execute(p.steps(), &mut hw).is_ok());
        check!(hw.last_log == "failed to enable irqs");
        check_eq!(hw.n_warn, 2u32);
        check_eq!(hw.get(off::CR0ACK), 0x1fu64);

        let mut hw = FakeSmmu::new(0x1f, 0);
        hw.set(off::IRQ_CTRLACK, 0x5);
        hw.ack_stuck = Some(off::IRQ_CTRLACK);
        check!(execute(p.steps(), &mut hw) == Err("failed to disable irqs"));
        check_eq!(hw.get(off::CR0ACK), 0x1eu64);

        // GBPA.UPDATE never clears: logged, the reset goes on.
        let mut hw = FakeSmmu::new(0x1f, 0);
        hw.gbpa_stuck = true;
        check!(execute(p.steps(), &mut hw).is_ok());
        check_eq!(hw.n_err, 1u32);
        check_eq!(hw.get(off::GBPA), 0x8010_0000u64);
        // ... and when it is stuck from the start, nothing is written.
        let mut hw = FakeSmmu::new(0x1f, gbpa::UPDATE);
        hw.gbpa_stuck = true;
        check!(execute(p.steps(), &mut hw).is_ok());
        check_eq!(hw.get(off::GBPA), 0x8000_0000u64);
        check_eq!(hw.n_err, 0u32);
        Ok(())
    }
}
