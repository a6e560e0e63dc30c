// SPDX-License-Identifier: GPL-2.0

#include <linux/device.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include "../../drivers/iommu/iommu-pages.h"

__rust_helper int rust_helper_dev_to_node(struct device *dev)
{
	return dev_to_node(dev);
}

__rust_helper phys_addr_t rust_helper_virt_to_phys(void *virt)
{
	return virt_to_phys(virt);
}

__rust_helper void rust_helper_iommu_pages_flush_incoherent(struct device *dma_dev,
							    void *virt, size_t offset,
							    size_t len)
{
	iommu_pages_flush_incoherent(dma_dev, virt, offset, len);
}

#ifdef CONFIG_X86
/* iommu_pages_free_incoherent() is only out of line where the DMA API is used. */
__rust_helper void rust_helper_iommu_pages_free_incoherent(void *virt,
							   struct device *dma_dev)
{
	iommu_pages_free_incoherent(virt, dma_dev);
}
#endif

__rust_helper void *rust_helper_dev_iommu_priv_get(struct device *dev)
{
	return dev_iommu_priv_get(dev);
}

__rust_helper struct iommu_fwspec *rust_helper_dev_iommu_fwspec_get(struct device *dev)
{
	return dev_iommu_fwspec_get(dev);
}

__rust_helper void rust_helper_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_gather_init(gather);
}

__rust_helper bool rust_helper_iommu_iotlb_gather_is_disjoint(struct iommu_iotlb_gather *gather,
							      unsigned long iova, size_t size)
{
	return iommu_iotlb_gather_is_disjoint(gather, iova, size);
}

__rust_helper void rust_helper_iommu_iotlb_gather_add_range(struct iommu_iotlb_gather *gather,
							    unsigned long iova, size_t size)
{
	iommu_iotlb_gather_add_range(gather, iova, size);
}

__rust_helper bool rust_helper_iommu_pages_list_empty(struct iommu_pages_list *list)
{
	return iommu_pages_list_empty(list);
}

#ifdef CONFIG_ACPI
#include <linux/acpi.h>

__rust_helper bool
rust_helper_is_acpi_static_node(const struct fwnode_handle *fwnode)
{
	return is_acpi_static_node(fwnode);
}
#endif
