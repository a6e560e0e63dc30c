// SPDX-License-Identifier: GPL-2.0

/*
 * Kexec HandOver for Rust. Without CONFIG_KEXEC_HANDOVER the header's
 * functions are static inline stubs, so every call goes through a helper
 * of its own name, which compiles against either.
 */

#include <linux/kexec.h>
#include <linux/kexec_handover.h>
#include <linux/mm.h>

__rust_helper bool rust_helper_kho_enabled(void)
{
	return kho_is_enabled();
}

__rust_helper bool rust_helper_kho_boot(void)
{
	return is_kho_boot();
}

/* Preserves the folio holding @virt; its order, or a negative errno. */
/* Not exported to modules: read here, in the kernel image. */
__rust_helper bool rust_helper_kho_kexec_in_progress(void)
{
	return kexec_in_progress;
}

__rust_helper int rust_helper_kho_preserve_folio_of(void *virt)
{
	struct folio *folio = virt_to_folio(virt);
	int ret = kho_preserve_folio(folio);

	return ret ?: folio_order(folio);
}

__rust_helper void rust_helper_kho_unpreserve_folio_of(void *virt)
{
	kho_unpreserve_folio(virt_to_folio(virt));
}

__rust_helper void *rust_helper_kho_alloc_preserved(size_t size)
{
	return kho_alloc_preserve(size);
}

__rust_helper void rust_helper_kho_unpreserve_and_free(void *mem)
{
	kho_unpreserve_free(mem);
}

__rust_helper void rust_helper_kho_free_restored(void *mem)
{
	kho_restore_free(mem);
}

__rust_helper int rust_helper_kho_add_named(const char *name, void *blob,
					    size_t size)
{
	return kho_add_subtree(name, blob, size);
}

__rust_helper void rust_helper_kho_remove_named(void *blob)
{
	kho_remove_subtree(blob);
}

__rust_helper int rust_helper_kho_find_named(const char *name,
					     phys_addr_t *phys, size_t *size)
{
	return kho_retrieve_subtree(name, phys, size);
}

/* The restored folio at @phys, mapped; its size in @size. */
__rust_helper void *rust_helper_kho_restore_folio_virt(phys_addr_t phys,
						       size_t *size)
{
	struct folio *folio = kho_restore_folio(phys);

	if (!folio)
		return NULL;
	*size = folio_size(folio);
	return folio_address(folio);
}

__rust_helper void rust_helper_kho_put_folio_of(void *virt)
{
	folio_put(virt_to_folio(virt));
}

__rust_helper void *rust_helper_kho_phys_to_virt(phys_addr_t phys)
{
	return phys_to_virt(phys);
}
