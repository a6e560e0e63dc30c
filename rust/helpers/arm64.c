// SPDX-License-Identifier: GPL-2.0

#ifdef CONFIG_ARM64
#include <asm/virt.h>

__rust_helper bool rust_helper_is_kernel_in_hyp_mode(void)
{
	return is_kernel_in_hyp_mode();
}
#endif
