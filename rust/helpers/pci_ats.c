// SPDX-License-Identifier: GPL-2.0

#include <linux/pci.h>
#include <linux/pci-ats.h>

/*
 * Without CONFIG_PCI_ATS these are static inline stubs: helpers give them
 * one name either way.
 */
__rust_helper bool rust_helper_pci_ats_supported(struct pci_dev *dev)
{
	return pci_ats_supported(dev);
}

__rust_helper int rust_helper_pci_enable_ats(struct pci_dev *dev, int ps)
{
	return pci_enable_ats(dev, ps);
}

__rust_helper void rust_helper_pci_disable_ats(struct pci_dev *dev)
{
	pci_disable_ats(dev);
}
