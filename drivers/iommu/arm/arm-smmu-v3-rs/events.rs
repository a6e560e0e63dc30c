// SPDX-License-Identifier: GPL-2.0

//! Interrupts: the event queue (threaded) and global errors.
//!
//! Every event is decoded by [`crate::hw::event`] and logged, rate-limited
//! as C limits them (a `struct ratelimit_state` with the printk defaults,
//! [`kernel::ratelimit::RateLimit`]), which logs a count of what was
//! suppressed.

use crate::{
    hw::{
        event::{Event, Gerror, GerrorBit, Severity},
        pri::{PageRequest, PRIQ_QWORDS},
        queue::Queue,
        regs::ctrl_off as off,
    },
    smmu::Smmu,
};
use kernel::{
    io::io_read,
    irq::{self, IrqReturn},
    prelude::*,
    sync::{
        atomic::Relaxed,
        barrier::{dma_mb, Full},
        Arc,
    },
};

/// A queue the SMMU produces into and the driver consumes: events, PRI
/// requests. PROD and CONS live in register page 1.
pub(crate) struct InQueue {
    pub(crate) mem: kernel::dma::Coherent<[u64]>,
    pub(crate) q: Queue,
    prod_off: usize,
    cons_off: usize,
    name: &'static str,
}

impl InQueue {
    /// The event queue in `mem`.
    pub(crate) fn events(mem: kernel::dma::Coherent<[u64]>, q: Queue) -> Self {
        Self {
            mem,
            q,
            prod_off: off::EVTQ_PROD,
            cons_off: off::EVTQ_CONS,
            name: "EVTQ",
        }
    }

    /// The PRI queue in `mem`.
    pub(crate) fn pri(mem: kernel::dma::Coherent<[u64]>, q: Queue) -> Self {
        Self {
            mem,
            q,
            prod_off: off::PRIQ_PROD,
            cons_off: off::PRIQ_CONS,
            name: "PRIQ",
        }
    }

    /// The record at index `idx`, read with single-copy-atomic loads.
    fn record<const N: usize>(&self, idx: u32) -> Result<[u64; N]> {
        let base = idx as usize * N;
        let mut raw = [0u64; N];
        for (i, w) in raw.iter_mut().enumerate() {
            *w = io_read!(&self.mem, [try: base + i]);
        }
        Ok(raw)
    }

    /// Hands every record to `f` and tells the SMMU they are consumed, until
    /// the queue is empty; reports an overflow (`arm_smmu_evtq_thread()`).
    /// Only one thread may drain a queue (its oneshot interrupt thread).
    fn drain<const N: usize>(&self, smmu: &Smmu, mut f: impl FnMut(&[u64; N])) {
        let (regs, q) = (smmu.regs(), self.q);
        let mut cons = regs.read32(self.cons_off);
        loop {
            let prod = regs.read32(self.prod_off);
            if q.empty(prod, cons) {
                if let Some(c) = q.sync_cons_ovf(prod, cons) {
                    dev_err!(
                        smmu.dev(),
                        "{} overflow detected -- records lost\n",
                        self.name
                    );
                    cons = c;
                    dma_mb(Full);
                    regs.write32(self.cons_off, cons);
                }
                return;
            }
            while !q.empty(prod, cons) {
                match self.record::<N>(q.idx(cons)) {
                    Ok(raw) => f(&raw),
                    Err(e) => dev_err!(smmu.dev(), "bad {} index: {:?}\n", self.name, e),
                }
                cons = q.inc_cons(cons) | Queue::ovf(cons);
            }
            // Every read of those records completes before the SMMU may
            // overwrite them (C's `__iomb()` before writing CONS): tell it
            // they are consumed, then look again.
            dma_mb(Full);
            regs.write32(self.cons_off, cons);
        }
    }
}

/// Handles the PRI queue interrupt: no page request is serviced yet, so
/// each is logged and its group denied.
pub(crate) struct PriHandler {
    pub(crate) smmu: Arc<Smmu>,
}

impl irq::ThreadedHandler for PriHandler {
    fn handle_threaded(&self) -> IrqReturn {
        self.smmu.drain_pri();
        IrqReturn::Handled
    }
}

/// Qwords per event record.
pub(crate) const EVT_QWORDS: usize = 4;

/// Handles the event queue interrupt: drains and logs every record.
pub(crate) struct EventHandler {
    pub(crate) smmu: Arc<Smmu>,
}

impl irq::ThreadedHandler for EventHandler {
    fn handle_threaded(&self) -> IrqReturn {
        self.smmu.drain_events();
        IrqReturn::Handled
    }
}

/// Handles the one interrupt of SMMUs that combine them (Cavium ThunderX2):
/// global errors in the hard handler, events and PRI requests in the
/// thread (`arm_smmu_combined_irq_handler()`, `_thread()`).
pub(crate) struct CombinedHandler {
    pub(crate) smmu: Arc<Smmu>,
}

impl irq::ThreadedHandler for CombinedHandler {
    fn handle(&self) -> irq::ThreadedIrqReturn {
        self.smmu.handle_gerror();
        irq::ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self) -> IrqReturn {
        self.smmu.drain_events();
        self.smmu.drain_pri();
        IrqReturn::Handled
    }
}

/// Handles the global error interrupt.
pub(crate) struct GerrorHandler {
    pub(crate) smmu: Arc<Smmu>,
}

impl irq::Handler for GerrorHandler {
    fn handle(&self) -> IrqReturn {
        if self.smmu.handle_gerror() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// The event, PRI and global-error queues' handlers.
impl Smmu {
    /// Consumes every event record (`arm_smmu_evtq_thread()`).
    pub(crate) fn drain_events(&self) {
        self.evtq.drain::<EVT_QWORDS>(self, |raw| {
            self.events_seen.fetch_add(1, Relaxed);
            self.report_event(&Event::decode(raw))
        });
    }

    /// Consumes every PRI request (`arm_smmu_priq_thread()`): logs it as
    /// unexpected and denies its group once the group's last request is in.
    pub(crate) fn drain_pri(&self) {
        let Some(priq) = &self.priq else {
            return;
        };
        priq.drain::<PRIQ_QWORDS>(self, |raw| {
            let req = PageRequest::decode(raw);
            dev_info!(
                self.dev(),
                "unexpected PRI request received: {}\n",
                format_args!("{}", req)
            );
            if let Some(resp) = req.response() {
                if let Err(e) = self.issue(&[resp], false) {
                    dev_err!(self.dev(), "PRI response failed: {:?}\n", e);
                }
            }
        });
    }

    fn report_event(&self, ev: &Event) {
        if self.ratelimit.allow(c"arm_smmu_v3_rs_report_event") {
            // `Event` formats with `core::fmt`, the kernel's `{}` wants its own
            // `Display`: go through `format_args!`.
            self.with_stream_name(ev.sid, |client| {
                dev_err!(
                    self.dev(),
                    "{}\n",
                    format_args!("{}", ev.with_client(client))
                )
            });
        }
    }

    /// Handles and acknowledges active global errors
    /// (`arm_smmu_gerror_handler()`); whether there were any. Command queue
    /// errors are left to the command queue, which polls for them; Service
    /// Failure Mode disables the SMMU, as C does.
    pub(crate) fn handle_gerror(&self) -> bool {
        let Some(regs) = self.regs().access() else {
            return false;
        };
        let g = Gerror::new(regs.read32(off::GERROR), regs.read32(off::GERRORN));
        if g.is_empty() {
            return false;
        }
        let mut ack = 0;
        let mut sfm = false;
        for bit in g.iter() {
            if bit == GerrorBit::Cmdq {
                continue;
            }
            match bit.severity() {
                Severity::Err => dev_err!(self.dev(), "{}\n", bit.message()),
                Severity::Warn => dev_warn!(self.dev(), "{}\n", bit.message()),
            }
            sfm |= bit == GerrorBit::Sfm;
            ack |= bit.mask();
            self.gerrors_seen.fetch_add(1, Relaxed);
        }
        self.ack_gerrors(&regs, ack);
        drop(regs);
        if sfm {
            self.disable();
        }
        true
    }
}
