// SPDX-License-Identifier: GPL-2.0

//! What firmware says about an SMMU, from its device-tree node or from its
//! ACPI IORT node (`arm_smmu_device_dt_probe()`,
//! `arm_smmu_device_acpi_probe()`): coherency, the IORT's HTTU override
//! and the implementation's quirks.

use crate::hw::{iort, regs::Options};
use kernel::{
    device::{Core, Device},
    iommu, platform,
    prelude::*,
};

/// The name the IORT gives the platform devices of SMMUv3 nodes.
pub(crate) const IORT_NAME: &CStr = c"arm-smmu-v3";

/// The firmware's description of one SMMU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Firmware {
    /// The SMMU has a device-tree node (else the IORT describes it).
    pub(crate) of_node: bool,
    /// Table walks are coherent.
    pub(crate) coherent: bool,
    /// IDR0.HTTU as the IORT states it (ignored with a DT node).
    pub(crate) httu: u32,
    /// `ARM_SMMU_OPT_SKIP_PREFETCH`.
    pub(crate) skip_prefetch: bool,
    /// `ARM_SMMU_OPT_PAGE0_REGS_ONLY`.
    pub(crate) page0_regs_only: bool,
}

impl Firmware {
    /// Reads the SMMU's firmware node. A DT node must say
    /// `#iommu-cells = <1>` (the StreamID); an IORT node must be a valid
    /// SMMUv3 node. Errors are logged as the C driver logs them.
    pub(crate) fn probe(pdev: &platform::Device<Core<'_>>) -> Result<Self> {
        let dev: &Device = pdev.as_ref();
        let fwnode = dev.fwnode().ok_or_else(|| {
            dev_err!(dev, "no firmware node\n");
            ENODEV
        })?;
        if fwnode.is_of_node() {
            let cells = fwnode.property_read::<u32>(c"#iommu-cells").optional();
            let fw = Self {
                of_node: true,
                coherent: iommu::pages::firmware_dma_coherent(dev),
                httu: 0,
                skip_prefetch: fwnode.property_read_bool(c"hisilicon,broken-prefetch-cmd"),
                page0_regs_only: fwnode.property_read_bool(c"cavium,cn9900-broken-page1-regspace"),
            };
            return match cells {
                None => {
                    dev_err!(dev, "missing #iommu-cells property\n");
                    Err(EINVAL)
                }
                Some(1) => Ok(fw),
                Some(n) => {
                    dev_err!(dev, "invalid #iommu-cells value ({})\n", n);
                    Err(EINVAL)
                }
            };
        }
        let Some(node) = iommu::iort::node(pdev, IORT_NAME) else {
            dev_err!(
                dev,
                "neither a device-tree nor an IORT node describes this SMMU\n"
            );
            return Err(ENODEV);
        };
        let node = iort::decode_smmu_v3(node).map_err(|e| {
            dev_err!(dev, "unusable IORT node: {:?}\n", e);
            EINVAL
        })?;
        let fw = Self {
            of_node: false,
            coherent: node.coherent,
            httu: node.httu,
            skip_prefetch: node.skip_prefetch(),
            page0_regs_only: node.page0_regs_only(),
        };
        // As `acpi_smmu_iort_probe_model()`: the options firmware implies.
        let opts = Options {
            skip_prefetch: fw.skip_prefetch,
            page0_regs_only: fw.page0_regs_only,
            ..Options::default()
        };
        dev_notice!(dev, "option mask {:#x}\n", opts.mask());
        Ok(fw)
    }

    /// Bytes of MMIO the SMMU must have (`arm_smmu_resource_size()`).
    pub(crate) fn mmio_size(&self) -> usize {
        if self.page0_regs_only {
            crate::hw::regs::PAGE_SZ
        } else {
            crate::hw::regs::REG_SZ
        }
    }
}
