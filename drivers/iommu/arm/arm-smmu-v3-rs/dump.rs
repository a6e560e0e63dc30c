// SPDX-License-Identifier: GPL-2.0

//! The debugfs decoder: what the SMMU is told, readable.
//!
//! `/sys/kernel/debug/arm_smmu_v3_rs/<smmu>/` holds:
//!
//! - `streams`: per StreamID of a device behind the SMMU, in order, the
//!   device, its STE decoded field by field, the valid CDs of its CD table
//!   (the first [`MAX_CDS`]), and the TLB tag and invalidation array of
//!   the paging domain it is attached to;
//! - `ste`: write a StreamID, read its STE decoded, whether a device
//!   is behind it or not (a released device's StreamID aborts);
//! - `counters`: commands and CMD_SYNCs issued, command errors, event
//!   records and other global errors handled.
//!
//! The decoding is [`crate::hw::decode`], tested on the host.

use crate::{
    hw::{cd::field as cdf, decode},
    smmu::Smmu,
};
use core::fmt::{self, Write};
use kernel::{prelude::*, sync::Arc, uaccess::UserSliceReader};

/// Most SubstreamIDs whose CDs `streams` shows per StreamID.
pub(crate) const MAX_CDS: u32 = 64;

/// Writes one `  label: <decoded entry>` line.
fn line(
    w: &mut fmt::Formatter<'_>,
    label: fmt::Arguments<'_>,
    decode: impl FnOnce(&mut fmt::Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    write!(w, "  {label}: ")?;
    decode(w)?;
    w.write_char('\n')
}

/// The `streams` file.
pub(crate) fn show_streams(smmu: &Arc<Smmu>, w: &mut fmt::Formatter<'_>) -> fmt::Result {
    smmu.for_each_stream(|sid, stream| {
        writeln!(w, "sid {:#x}: {}", sid, stream.name.to_str().unwrap_or("?"))?;
        match smmu.strtab.read(sid) {
            Ok(Some(ste)) => line(w, format_args!("ste"), |w| decode::ste(w, &ste))?,
            Ok(None) => writeln!(w, "  ste: no level-2 table")?,
            Err(e) => writeln!(w, "  ste: unreadable ({e:?})")?,
        }
        let state = stream.state.lock();
        if let Some(cdtab) = &state.cdtab {
            for ssid in 0..cdtab.ssids().min(MAX_CDS) {
                if let Ok(Some(cd)) = cdtab.read(ssid) {
                    if cdf::V.is_set(cd[0]) {
                        line(w, format_args!("cd {ssid:#x}"), |w| decode::cd(w, &cd))?;
                    }
                }
            }
        }
        match &state.domain {
            Some(d) => d.show(w, "  "),
            None => Ok(()),
        }
    })
}

/// Reading the `ste` file: the STE of the StreamID written last.
pub(crate) fn show_ste(smmu: &Arc<Smmu>, w: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sid = smmu.debug_sid.load(kernel::sync::atomic::Relaxed);
    write!(w, "sid {sid:#x}: ")?;
    if !smmu.has_sid(sid) {
        return writeln!(w, "beyond the SMMU's StreamIDs");
    }
    match smmu.strtab.read(sid) {
        Ok(Some(ste)) => decode::ste(w, &ste)?,
        Ok(None) => w.write_str("no level-2 table (abort)")?,
        Err(e) => write!(w, "unreadable ({e:?})")?,
    }
    w.write_char('\n')
}

/// Writing the `ste` file: a StreamID, hexadecimal with `0x` or decimal.
pub(crate) fn select_ste(smmu: &Arc<Smmu>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let buf = buf.get_mut(..reader.len()).ok_or(EINVAL)?;
    reader.read_slice(buf)?;
    let text = core::str::from_utf8(buf).map_err(|_| EINVAL)?.trim();
    let sid = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|_| EINVAL)?;
    smmu.debug_sid.store(sid, kernel::sync::atomic::Relaxed);
    Ok(())
}

/// The `counters` file.
pub(crate) fn show_counters(smmu: &Arc<Smmu>, w: &mut fmt::Formatter<'_>) -> fmt::Result {
    let c = smmu.counters();
    writeln!(w, "commands: {}", c.commands)?;
    writeln!(w, "syncs: {}", c.syncs)?;
    writeln!(w, "command_errors: {}", c.command_errors)?;
    writeln!(w, "events: {}", c.events)?;
    writeln!(w, "global_errors: {}", c.global_errors)
}
