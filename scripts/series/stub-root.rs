// SPDX-License-Identifier: GPL-2.0

//! Arm SMMUv3 IOMMU driver, in Rust.
//!
//! So far the pure hardware model of the SMMU, in [`hw`], which KUnit
//! tests, and the parts of the driver that use it; the module binds to no
//! device until the probe is added.

@ALLOW@
use kernel::prelude::*;

@MODS@

/// The module: it registers nothing until the driver's probe is added.
struct ArmSmmuV3Rs;

impl kernel::Module for ArmSmmuV3Rs {
    fn init(_module: &'static kernel::ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

kernel::prelude::module! {
    type: ArmSmmuV3Rs,
    name: "arm_smmu_v3_rs",
    authors: ["The arm-smmu-v3-rs developers"],
    description: "Arm SMMUv3 IOMMU driver (Rust)",
    license: "GPL",
}
