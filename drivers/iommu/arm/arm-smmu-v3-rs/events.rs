// SPDX-License-Identifier: GPL-2.0

//! Interrupts: the event queue (threaded) and global errors.
//!
//! Every event is decoded by [`crate::hw::event`] and logged, at most
//! [`BURST`] lines per [`INTERVAL_MS`] (the printk rate-limit defaults),
//! with a count of what was suppressed.

use crate::{
    hw::{
        event::{Event, Gerror, GerrorBit, Severity},
        queue::Queue,
        regs::ctrl_off as off,
    },
    smmu::Smmu,
};
use kernel::{
    io::io_read,
    irq::{self, IrqReturn},
    prelude::*,
    sync::{new_spinlock, Arc, SpinLock},
    time::{Delta, Instant, Monotonic},
};

/// Log lines allowed per interval.
const BURST: u32 = 10;
/// Length of a rate-limit interval.
const INTERVAL_MS: i64 = 5000;

/// A printk-style rate limit.
#[pin_data]
pub(crate) struct RateLimit {
    #[pin]
    state: SpinLock<(Instant<Monotonic>, u32, u32)>,
}

impl RateLimit {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            state <- new_spinlock!((Instant::now(), 0, 0)),
        })
    }

    /// Whether to print now; also returns how many lines were suppressed
    /// since the last one printed.
    fn allow(&self) -> (bool, u32) {
        let mut s = self.state.lock();
        let now = Instant::now();
        if now - s.0 > Delta::from_millis(INTERVAL_MS) {
            let missed = s.2;
            *s = (now, 1, 0);
            return (true, missed);
        }
        if s.1 < BURST {
            s.1 += 1;
            (true, 0)
        } else {
            s.2 += 1;
            (false, 0)
        }
    }
}

/// Qwords per event record.
pub(crate) const EVT_QWORDS: usize = 4;

/// The event queue's consumer side.
pub(crate) struct EventQueue {
    pub(crate) mem: kernel::dma::Coherent<[u64]>,
    pub(crate) q: Queue,
}

impl EventQueue {
    /// The record at index `idx`, read with single-copy-atomic loads.
    fn record(&self, idx: u32) -> Result<[u64; EVT_QWORDS]> {
        let base = idx as usize * EVT_QWORDS;
        let mut raw = [0u64; EVT_QWORDS];
        for (i, w) in raw.iter_mut().enumerate() {
            *w = io_read!(&self.mem, [try: base + i]);
        }
        Ok(raw)
    }
}

/// Handles the event queue interrupt: drains and logs every record.
pub(crate) struct EventHandler<'a> {
    pub(crate) smmu: Arc<Smmu<'a>>,
}

impl irq::ThreadedHandler for EventHandler<'_> {
    fn handle_threaded(&self) -> IrqReturn {
        self.smmu.drain_events();
        IrqReturn::Handled
    }
}

/// Handles the global error interrupt.
pub(crate) struct GerrorHandler<'a> {
    pub(crate) smmu: Arc<Smmu<'a>>,
}

impl irq::Handler for GerrorHandler<'_> {
    fn handle(&self) -> IrqReturn {
        if self.smmu.handle_gerror() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

impl Smmu<'_> {
    /// Consumes every event record (`arm_smmu_evtq_thread()`); only ever
    /// called from the event interrupt's thread.
    pub(crate) fn drain_events(&self) {
        let evtq = &self.evtq;
        let q = evtq.q;
        let mut cons = self.regs().read32(off::EVTQ_CONS);
        loop {
            let prod = self.regs().read32(off::EVTQ_PROD);
            if q.empty(prod, cons) {
                if let Some(c) = q.sync_cons_ovf(prod, cons) {
                    dev_err!(self.dev, "EVTQ overflow detected -- events lost\n");
                    cons = c;
                    self.regs().write32(off::EVTQ_CONS, cons);
                }
                return;
            }
            while !q.empty(prod, cons) {
                match evtq.record(q.idx(cons)) {
                    Ok(raw) => self.report_event(&Event::decode(&raw)),
                    Err(e) => dev_err!(self.dev, "bad event queue index: {:?}\n", e),
                }
                cons = q.inc_cons(cons) | Queue::ovf(cons);
            }
            // Tell the SMMU the records are consumed before looking again.
            self.regs().write32(off::EVTQ_CONS, cons);
        }
    }

    fn report_event(&self, ev: &Event) {
        let (print, missed) = self.ratelimit.allow();
        if missed > 0 {
            dev_err!(self.dev, "{} event messages suppressed\n", missed);
        }
        if print {
            // `Event` formats with `core::fmt`, the kernel's `{}` wants its own
            // `Display`: go through `format_args!`.
            dev_err!(self.dev, "{}\n", format_args!("{}", ev.with_client(None)));
        }
    }

    /// Handles and acknowledges active global errors
    /// (`arm_smmu_gerror_handler()`); whether there were any. Command queue
    /// errors are left to the command queue, which polls for them.
    pub(crate) fn handle_gerror(&self) -> bool {
        let g = Gerror::new(
            self.regs().read32(off::GERROR),
            self.regs().read32(off::GERRORN),
        );
        if g.is_empty() {
            return false;
        }
        let mut ack = self.regs().read32(off::GERRORN);
        for bit in g.iter() {
            if bit == GerrorBit::Cmdq {
                continue;
            }
            match bit.severity() {
                Severity::Err => dev_err!(self.dev, "{}\n", bit.message()),
                Severity::Warn => dev_warn!(self.dev, "{}\n", bit.message()),
            }
            ack ^= bit.mask();
        }
        self.regs().write32(off::GERRORN, ack);
        true
    }
}
