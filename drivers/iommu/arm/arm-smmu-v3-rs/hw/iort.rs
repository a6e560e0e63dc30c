// SPDX-License-Identifier: GPL-2.0

//! The ACPI IORT node of an SMMUv3 (`struct acpi_iort_node` followed by
//! `struct acpi_iort_smmu_v3`, ACPI IORT spec E.g), decoded from its bytes
//! as firmware laid them out: what `arm_smmu_device_acpi_probe()` reads.

/// Node type of an SMMUv3 (`ACPI_IORT_NODE_SMMU_V3`).
pub const NODE_SMMU_V3: u8 = 4;

/// Bytes of the node header (`struct acpi_iort_node` up to `node_data`).
const HEADER: usize = 16;
/// Bytes of `struct acpi_iort_smmu_v3` up to and including `model`, the
/// last field this driver needs.
const SMMU_V3_MIN: usize = 28;

/// `ACPI_IORT_SMMU_V3_COHACC_OVERRIDE`: table walks are coherent.
const FLAG_COHACC: u32 = 1 << 0;
/// `ACPI_IORT_SMMU_V3_HTTU_OVERRIDE`: bits 2:1, the hardware update of
/// access and dirty flags firmware promises (encoded as IDR0.HTTU).
const FLAG_HTTU_SHIFT: u32 = 1;

/// The implementation an IORT node names (`ACPI_IORT_SMMU_V3_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// `ACPI_IORT_SMMU_V3_GENERIC`.
    Generic,
    /// `ACPI_IORT_SMMU_V3_HISILICON_HI161X`: CMD_PREFETCH_CONFIG is broken.
    HisiliconHi161x,
    /// `ACPI_IORT_SMMU_V3_CAVIUM_CN99XX`: register page 1 is not
    /// implemented; its registers are at the same offsets in page 0.
    CaviumCn99xx,
    /// A value this driver does not know (treated as generic, as in C).
    Other(u32),
}

/// What this driver uses of an SMMUv3's IORT node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmmuV3Node {
    /// Base address of the SMMU's registers.
    pub base: u64,
    /// Firmware says the SMMU's table walks are coherent (COHACC override).
    pub coherent: bool,
    /// IDR0.HTTU as firmware states it (0: none, 1: access flag, 2: also
    /// dirty state, 3: also HAFT).
    pub httu: u32,
    /// The implementation.
    pub model: Model,
}

impl SmmuV3Node {
    /// `ARM_SMMU_OPT_SKIP_PREFETCH` for this implementation.
    pub fn skip_prefetch(&self) -> bool {
        self.model == Model::HisiliconHi161x
    }

    /// `ARM_SMMU_OPT_PAGE0_REGS_ONLY` for this implementation.
    pub fn page0_regs_only(&self) -> bool {
        self.model == Model::CaviumCn99xx
    }
}

/// Why a node could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IortError {
    /// Fewer bytes than the header and the fields this driver reads.
    Truncated(usize),
    /// The node is not an SMMUv3 node (its type).
    NotSmmuV3(u8),
    /// The node's own length is shorter than the fields this driver reads.
    BadLength(u16),
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(le32(b, at)?) | u64::from(le32(b, at + 4)?) << 32)
}

/// Decodes the IORT node in `node` (the node's bytes, at least as many as
/// the node's length field says, as ACPI tables are little-endian).
pub fn decode_smmu_v3(node: &[u8]) -> Result<SmmuV3Node, IortError> {
    let truncated = IortError::Truncated(node.len());
    let ty = *node.first().ok_or(truncated)?;
    if ty != NODE_SMMU_V3 {
        return Err(IortError::NotSmmuV3(ty));
    }
    let len = node.get(1..3).ok_or(truncated)?;
    let len = u16::from_le_bytes([len[0], len[1]]);
    if usize::from(len) < HEADER + SMMU_V3_MIN {
        return Err(IortError::BadLength(len));
    }
    let data = node.get(HEADER..HEADER + SMMU_V3_MIN).ok_or(truncated)?;
    let field = |at| le32(data, at).ok_or(truncated);
    let flags = field(8)?;
    let model = match field(24)? {
        0 => Model::Generic,
        1 => Model::HisiliconHi161x,
        2 => Model::CaviumCn99xx,
        m => Model::Other(m),
    };
    Ok(SmmuV3Node {
        base: le64(data, 0).ok_or(truncated)?,
        coherent: flags & FLAG_COHACC != 0,
        httu: (flags >> FLAG_HTTU_SHIFT) & 3,
        model,
    })
}

/// Shared test cases (see [`crate::hw::selftest`]); each name says what it checks.
#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
#[allow(missing_docs)]
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, Failure, TestResult};

    /// An SMMUv3 node shaped like the one QEMU 10's virt machine builds
    /// (`build_iort()`): base 0x09050000, COHACC override, generic model,
    /// GSIVs 106..109, followed by the start of its ID mapping.
    pub const QEMU_NODE: [u8; 72] = [
        4, 72, 0, 4, 1, 0, 0, 0, 1, 0, 0, 0, 68, 0, 0, 0, // header
        0, 0, 5, 9, 0, 0, 0, 0, // base 0x09050000
        1, 0, 0, 0, 0, 0, 0, 0, // flags: COHACC; reserved
        0, 0, 0, 0, 0, 0, 0, 0, // VATOS
        0, 0, 0, 0, // model: generic
        106, 0, 0, 0, 107, 0, 0, 0, 109, 0, 0, 0, 108, 0, 0, 0, // GSIVs
        0, 0, 0, 0, 0, 0, 0, 0, // PXM, ID mapping index
        0, 0, 0, 0, // (start of the ID mapping)
    ];

    fn decode(b: &[u8]) -> Result<SmmuV3Node, Failure> {
        decode_smmu_v3(b).map_err(|_| failure!("decode_smmu_v3() failed"))
    }

    pub fn iort_decodes_qemu_node() -> TestResult {
        let n = decode(&QEMU_NODE)?;
        check_eq!(n.base, 0x0905_0000u64);
        check!(n.coherent);
        check_eq!(n.httu, 0u32);
        check!(n.model == Model::Generic);
        check!(!n.skip_prefetch() && !n.page0_regs_only());
        Ok(())
    }

    pub fn iort_models_and_flags() -> TestResult {
        let mut b = QEMU_NODE;
        b[24] = 0b110; // no COHACC, HTTU 3
        b[40] = 2; // Cavium CN99xx
        let n = decode(&b)?;
        check!(!n.coherent);
        check_eq!(n.httu, 3u32);
        check!(n.page0_regs_only() && !n.skip_prefetch());
        b[40] = 1; // HiSilicon Hi161x
        let n = decode(&b)?;
        check!(n.skip_prefetch() && !n.page0_regs_only());
        b[40] = 9;
        check!(decode(&b)?.model == Model::Other(9));
        Ok(())
    }

    pub fn iort_rejects_bad_nodes() -> TestResult {
        // Every truncation is refused, never read past.
        for len in 0..HEADER + SMMU_V3_MIN {
            let r = QEMU_NODE.get(..len).map(decode_smmu_v3);
            check!(matches!(r, Some(Err(_))));
        }
        let mut b = QEMU_NODE;
        b[0] = 3; // an SMMUv1/v2 node
        check!(decode_smmu_v3(&b) == Err(IortError::NotSmmuV3(3)));
        let mut b = QEMU_NODE;
        b[1] = 40; // length field shorter than the model field
        check!(decode_smmu_v3(&b) == Err(IortError::BadLength(40)));
        Ok(())
    }
}
