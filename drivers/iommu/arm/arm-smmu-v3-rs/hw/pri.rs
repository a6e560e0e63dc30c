// SPDX-License-Identifier: GPL-2.0

//! PRI queue records: page requests from ATS-capable PCIe devices.
//!
//! The driver does not service page requests (no I/O page faults yet), so
//! like the C driver without SVA it logs each request as unexpected and
//! denies the page request group once its last request arrives.

use super::bits::Field;
use super::cmd::{Cmd, PriResp, Ssid};
use core::fmt;

/// PRI queue record fields (`PRIQ_0_*`, `PRIQ_1_*`).
#[allow(missing_docs)]
pub mod field {
    use super::Field;
    pub const SID: Field = Field::new(31, 0);
    pub const SSID: Field = Field::new(51, 32);
    pub const PERM_PRIV: Field = Field::bit(58);
    pub const PERM_EXEC: Field = Field::bit(59);
    pub const PERM_READ: Field = Field::bit(60);
    pub const PERM_WRITE: Field = Field::bit(61);
    pub const PRG_LAST: Field = Field::bit(62);
    pub const SSID_V: Field = Field::bit(63);
    pub const PRG_IDX: Field = Field::new(8, 0);
    pub const ADDR: Field = Field::new(63, 12);
}

/// Qwords per PRI queue record.
pub const PRIQ_QWORDS: usize = 2;

/// A decoded page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// StreamID.
    pub sid: u32,
    /// SubstreamID, if the request carried one.
    pub ssid: Option<Ssid>,
    /// Last request of its page request group.
    pub last: bool,
    /// Page request group index.
    pub grpid: u16,
    /// Privileged access requested.
    pub privileged: bool,
    /// Read access requested.
    pub read: bool,
    /// Write access requested.
    pub write: bool,
    /// Execute access requested.
    pub exec: bool,
    /// Page address.
    pub addr: u64,
}

impl PageRequest {
    /// Decodes a record as `arm_smmu_handle_ppr()` does.
    pub const fn decode(raw: &[u64; PRIQ_QWORDS]) -> Self {
        use field::*;
        let ssid = if SSID_V.is_set(raw[0]) {
            Ssid::new(SSID.get(raw[0]) as u32)
        } else {
            None
        };
        Self {
            sid: SID.get(raw[0]) as u32,
            ssid,
            last: PRG_LAST.is_set(raw[0]),
            grpid: PRG_IDX.get(raw[1]) as u16,
            privileged: PERM_PRIV.is_set(raw[0]),
            read: PERM_READ.is_set(raw[0]),
            write: PERM_WRITE.is_set(raw[0]),
            exec: PERM_EXEC.is_set(raw[0]),
            addr: raw[1] & ADDR.mask(),
        }
    }

    /// The response the driver owes: deny the group once its last request
    /// is in, nothing before.
    pub const fn response(&self) -> Option<Cmd> {
        if self.last {
            Some(Cmd::PriResp {
                sid: self.sid,
                ssid: self.ssid,
                grpid: self.grpid,
                resp: PriResp::Deny,
            })
        } else {
            None
        }
    }
}

impl fmt::Display for PageRequest {
    /// The C driver's line: `sid 0x%08x.0x%05x: [grp L] ...privileged RWX access at iova`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ssid = match self.ssid {
            Some(s) => s.get(),
            None => 0,
        };
        write!(
            f,
            "sid {:#010x}.{:#07x}: [{}{}] {}privileged {}{}{} access at iova {:#018x}",
            self.sid,
            ssid,
            self.grpid,
            if self.last { "L" } else { "" },
            if self.privileged { "" } else { "un" },
            if self.read { "R" } else { "" },
            if self.write { "W" } else { "" },
            if self.exec { "X" } else { "" },
            self.addr
        )
    }
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, TestResult};

    /// Words built from the C macros' bit positions (PRIQ_0_SID [31:0],
    /// SSID [51:32], PERM_PRIV 58, EXEC 59, READ 60, WRITE 61, PRG_LAST 62,
    /// SSID_V 63; PRIQ_1_PRG_IDX [8:0], ADDR [63:12]).
    pub fn pri_known_answers() -> TestResult {
        let raw = [
            0x12 | (0x345 << 32) | (1 << 60) | (1 << 61) | (1 << 62) | (1 << 63),
            0xdead_b000 | 0x1ab,
        ];
        let r = PageRequest::decode(&raw);
        check_eq!(r.sid, 0x12u32);
        check!(r.ssid.map(|s| s.get()) == Some(0x345));
        check!(r.last && r.read && r.write && !r.exec && !r.privileged);
        check_eq!(r.grpid, 0x1abu16);
        check_eq!(r.addr, 0xdead_b000u64);
        // The deny response, encoded: PRI_RESP (0x41), SSV (bit 11),
        // SSID [31:12], SID [63:32]; qword 1: GRPID [8:0], RESP [13:12] = 0.
        let cmd = r.response().map(|c| c.encode());
        check!(cmd == Some([0x41 | (1 << 11) | (0x345 << 12) | (0x12 << 32), 0x1ab]));
        Ok(())
    }

    pub fn pri_not_last_no_response() -> TestResult {
        let r = PageRequest::decode(&[0x7 | (1 << 58) | (1 << 59), 0x4000]);
        check!(r.response().is_none());
        check!(r.ssid.is_none() && r.privileged && r.exec);
        Ok(())
    }
}
