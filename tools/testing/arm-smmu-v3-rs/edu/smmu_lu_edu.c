// SPDX-License-Identifier: GPL-2.0
/*
 * Live-update test module for the SMMUv3 drivers: QEMU's `edu` device keeps
 * DMAing through an IOMMU mapping across kexec.
 *
 * First kernel (no record of ours handed over): attach edu to a new paging
 * domain, map IOVA X -> page P (a known pattern) and IOVA Y -> page Q, check
 * that edu copies X to Y, clear Q, then preserve P and Q with KHO and hand
 * over a record of X, Y, P and Q ("smmu-lu-edu"). The SMMU driver is told
 * separately (its debugfs `preserve` file) to keep edu's translation.
 *
 * Second kernel (the record found): restore P and Q and, without the DMA
 * API (which would attach edu's default domain), make edu copy X to Y
 * again: Q must hold P's pattern if the translation survived. With
 * release=1, then attach a new paging domain (the preserved tables are
 * freed by the SMMU driver) and check a round trip through it.
 *
 * Results are "smmu_lu_edu: RESULT <check> <PASS|FAIL> <detail>" lines.
 * edu (QEMU docs/specs/edu.rst): DMA source 0x80, destination 0x88, count
 * 0x90, command 0x98 (bit 0 start, bit 1 edu -> RAM); its buffer is at edu
 * address 0x40000; DMA addresses are masked to 28 bits.
 */
#include <linux/delay.h>
#include <linux/iommu.h>
#include <linux/kexec_handover.h>
#include <linux/module.h>
#include <linux/pci.h>

#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	BIT(0)
#define EDU_CMD_TO_RAM	BIT(1)
#define EDU_BUF		0x40000
#define LEN		256
#define IOVA_X		0x100000
#define IOVA_Y		0x200000
#define REC_NAME	"smmu-lu-edu"
#define REC_MAGIC	0x75646575 /* "uedu" */

struct lu_rec {
	u32 magic;
	u32 seed;
	u64 p_phys, q_phys;
};

static bool release;
module_param(release, bool, 0444);
MODULE_PARM_DESC(release, "Second kernel: then attach a new domain (frees the preserved tables)");

static void result(const char *check, bool ok, const char *detail)
{
	pr_info("smmu_lu_edu: RESULT %s %s %s\n", check, ok ? "PASS" : "FAIL",
		detail);
}

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

/* edu copies LEN bytes from IOVA @src to IOVA @dst; whether @dst_va holds
 * the pattern of @seed afterwards. */
static bool copy_checks(void __iomem *bar, u64 src, u64 dst, u8 *dst_va, u8 seed)
{
	bool ok = true;
	int i;

	memset(dst_va, 0, LEN);
	ok &= edu_dma(bar, src, EDU_BUF, false);
	ok &= edu_dma(bar, EDU_BUF, dst, true);
	for (i = 0; i < LEN; i++)
		ok &= dst_va[i] == (u8)(seed + i);
	return ok;
}

static void fill(u8 *va, u8 seed)
{
	int i;

	for (i = 0; i < LEN; i++)
		va[i] = seed + i;
}

static int first_kernel(struct pci_dev *pdev, void __iomem *bar)
{
	struct iommu_domain *dom;
	struct folio *p, *q;
	struct lu_rec *rec;
	int ret;

	dom = iommu_paging_domain_alloc(&pdev->dev);
	if (IS_ERR(dom)) {
		result("a.domain", false, "iommu_paging_domain_alloc");
		return PTR_ERR(dom);
	}
	ret = iommu_attach_device(dom, &pdev->dev);
	result("a.attach", !ret, "iommu_attach_device");
	if (ret)
		return ret;
	p = folio_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	q = folio_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	if (!p || !q)
		return -ENOMEM;
	fill(folio_address(p), 0x3c);
	ret = iommu_map(dom, IOVA_X, PFN_PHYS(folio_pfn(p)), PAGE_SIZE,
			IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
	ret = ret ?: iommu_map(dom, IOVA_Y, PFN_PHYS(folio_pfn(q)), PAGE_SIZE,
			       IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
	result("a.map", !ret, "X and Y");
	if (ret)
		return ret;
	result("a.dma", copy_checks(bar, IOVA_X, IOVA_Y, folio_address(q), 0x3c),
	       "edu copies X to Y");
	memset(folio_address(q), 0, PAGE_SIZE);

	if (!kho_is_enabled()) {
		result("a.kho", false, "KHO is off (kho=on)");
		return 0;
	}
	ret = kho_preserve_folio(p) ?: kho_preserve_folio(q);
	rec = kho_alloc_preserve(sizeof(*rec));
	if (ret || IS_ERR(rec)) {
		result("a.kho", false, "preserve");
		return ret ?: PTR_ERR(rec);
	}
	rec->magic = REC_MAGIC;
	rec->seed = 0x3c;
	rec->p_phys = PFN_PHYS(folio_pfn(p));
	rec->q_phys = PFN_PHYS(folio_pfn(q));
	ret = kho_add_subtree(REC_NAME, rec, sizeof(*rec));
	result("a.kho", !ret, "P, Q and the record preserved");
	return ret;
}

static int second_kernel(struct pci_dev *pdev, void __iomem *bar, phys_addr_t phys)
{
	struct lu_rec *rec = phys_to_virt(phys);
	struct iommu_domain *dom;
	struct folio *p, *q, *r;
	char detail[80];
	bool ok;
	int ret;

	if (rec->magic != REC_MAGIC) {
		result("b.record", false, "bad magic");
		return -EINVAL;
	}
	p = kho_restore_folio(rec->p_phys);
	q = kho_restore_folio(rec->q_phys);
	result("b.restore", p && q, "P and Q");
	if (!p || !q)
		return -ENOENT;
	/* P still holds the pattern; edu copies it through the old mapping. */
	ok = copy_checks(bar, IOVA_X, IOVA_Y, folio_address(q), rec->seed);
	snprintf(detail, sizeof(detail), "edu copies X to Y through the preserved tables (P %#llx)",
		 (u64)rec->p_phys);
	pr_info("smmu_lu_edu: first DMA after kexec done\n");
	result("b.dma_preserved", ok, detail);
	if (!release)
		return 0;

	dom = iommu_paging_domain_alloc(&pdev->dev);
	if (IS_ERR(dom)) {
		result("b.release", false, "iommu_paging_domain_alloc");
		return PTR_ERR(dom);
	}
	ret = iommu_attach_device(dom, &pdev->dev);
	result("b.release_attach", !ret, "a new domain replaces the preserved one");
	if (ret)
		return ret;
	r = folio_alloc(GFP_KERNEL | __GFP_ZERO, 0);
	if (!r)
		return -ENOMEM;
	fill(folio_address(r), 0x77);
	ret = iommu_map(dom, IOVA_X, PFN_PHYS(folio_pfn(r)), PAGE_SIZE,
			IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
	ret = ret ?: iommu_map(dom, IOVA_Y, PFN_PHYS(folio_pfn(q)), PAGE_SIZE,
			       IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
	result("b.new_domain_dma", !ret && copy_checks(bar, IOVA_X, IOVA_Y, folio_address(q), 0x77),
	       "edu copies X to Y through the new domain");
	return 0;
}

static int lu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *bar;
	phys_addr_t phys;
	size_t size;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/* A kexec clears bus mastering: the second kernel turns it back on. */
	pci_set_master(pdev);
	bar = pcim_iomap(pdev, 0, 0);
	if (!bar)
		return -ENOMEM;
	if (is_kho_boot() && !kho_retrieve_subtree(REC_NAME, &phys, &size) &&
	    size == sizeof(struct lu_rec))
		return second_kernel(pdev, bar, phys);
	return first_kernel(pdev, bar);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver lu_driver = {
	.name = "smmu_lu_edu",
	.id_table = edu_ids,
	.probe = lu_probe,
	/* No DMA API: it would attach edu's default domain. */
	.driver_managed_dma = true,
};
module_pci_driver(lu_driver);

MODULE_DESCRIPTION("SMMUv3 test: edu DMA through a mapping kept across kexec");
MODULE_LICENSE("GPL");
