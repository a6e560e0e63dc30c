# SPDX-License-Identifier: GPL-2.0
#
# Only the bound driver's probe summary (compared across drivers by the host)
# and a clean log.
summary=$(smmu_summary)
if [ -n "$summary" ]; then pass summary "$summary"; else fail summary "no probe summary"; fi
no_kernel_splat log
