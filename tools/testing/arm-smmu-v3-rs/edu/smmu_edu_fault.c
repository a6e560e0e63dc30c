// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for the SMMUv3 drivers: makes QEMU's `edu` PCI device DMA
 * through its IOMMU domain, first to a mapped buffer (must work), then to
 * the same IOVA after it was unmapped (must fault: the SMMU reports a
 * translation fault in its event queue), then to a new mapping (must work
 * again). Results are printed as "smmu_edu_fault: RESULT <check> <PASS|FAIL>
 * <detail>" lines for the test scenario.
 *
 * The edu device (QEMU docs/specs/edu.rst): DMA source at 0x80, destination
 * at 0x88, count at 0x90, command at 0x98 (bit 0 start, bit 1 direction
 * EDU -> RAM); its own buffer is at EDU address 0x40000; it masks DMA
 * addresses to 28 bits.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>

#define EDU_ID		0x00
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	BIT(0)
#define EDU_CMD_TO_RAM	BIT(1)
#define EDU_BUF		0x40000
#define LEN		256

static bool fault = true;
module_param(fault, bool, 0444);
MODULE_PARM_DESC(fault, "Also DMA to an unmapped IOVA (needs a DMA domain)");

static void result(const char *check, bool ok, const char *detail)
{
	pr_info("smmu_edu_fault: RESULT %s %s %s\n", check, ok ? "PASS" : "FAIL",
		detail);
}

/* One edu DMA of LEN bytes; whether it completed within a second. */
static bool edu_dma(void __iomem *bar, u64 src, u64 dst, bool to_ram)
{
	int i;

	writeq(src, bar + EDU_DMA_SRC);
	writeq(dst, bar + EDU_DMA_DST);
	writeq(LEN, bar + EDU_DMA_CNT);
	writeq(EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0), bar + EDU_DMA_CMD);
	for (i = 0; i < 100; i++) {
		if (!(readq(bar + EDU_DMA_CMD) & EDU_CMD_START))
			return true;
		msleep(10);
	}
	return false;
}

/* RAM -> edu -> RAM through a fresh mapping; whether the bytes came back. */
static bool round_trip(struct pci_dev *pdev, void __iomem *bar, u8 seed,
		       dma_addr_t *iova_out)
{
	dma_addr_t iova;
	u8 *buf;
	bool ok = true;
	int i;

	buf = dma_alloc_coherent(&pdev->dev, PAGE_SIZE, &iova, GFP_KERNEL);
	if (!buf)
		return false;
	for (i = 0; i < LEN; i++)
		buf[i] = seed + i;
	ok &= edu_dma(bar, iova, EDU_BUF, false);
	memset(buf, 0, LEN);
	ok &= edu_dma(bar, EDU_BUF, iova, true);
	for (i = 0; i < LEN; i++)
		ok &= buf[i] == (u8)(seed + i);
	dma_free_coherent(&pdev->dev, PAGE_SIZE, buf, iova);
	*iova_out = iova;
	return ok;
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *bar;
	dma_addr_t stale, again;
	char detail[64];
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(28));
	if (ret)
		return ret;
	bar = pcim_iomap(pdev, 0, 0);
	if (!bar)
		return -ENOMEM;
	snprintf(detail, sizeof(detail), "id %#x", readl(bar + EDU_ID));
	result("edu.present", true, detail);

	/* 1. Through a mapping: the bytes make the round trip. */
	result("dma.mapped", round_trip(pdev, bar, 0x5a, &stale), "round trip");
	if (!fault)
		return 0;
	/* 2. The same IOVA, now unmapped: the SMMU must refuse it. */
	snprintf(detail, sizeof(detail), "iova %#llx", (u64)stale);
	pr_info("smmu_edu_fault: DMA to unmapped %s\n", detail);
	result("dma.unmapped_issued", edu_dma(bar, stale, EDU_BUF, false), detail);
	/* 3. DMA still works afterwards. */
	result("dma.after_fault", round_trip(pdev, bar, 0xa5, &again), "round trip");
	return 0;
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "smmu_edu_fault",
	.id_table = edu_ids,
	.probe = edu_probe,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("SMMUv3 test: edu DMA to mapped and unmapped IOVAs");
MODULE_LICENSE("GPL");
