# SPDX-License-Identifier: GPL-2.0
#
# Several scenarios in one boot (`parts=a,b,c`), each check named
# "part/check": for the debug kernel, where a boot costs the most. Ends
# with a kmemleak scan when `kmemleak=1`.
for part in $(arg parts | tr , ' '); do
	RESULT_PREFIX="$part/"
	if [ -f "/scenarios/$part.sh" ]; then
		. "/scenarios/$part.sh"
	else
		fail scenario "no scenario '$part'"
	fi
done
RESULT_PREFIX=
[ "$(arg kmemleak)" = 1 ] && kmemleak_check kmemleak
