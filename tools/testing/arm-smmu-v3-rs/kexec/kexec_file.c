// SPDX-License-Identifier: GPL-2.0
/*
 * The least a test guest needs to kexec: kexec_file_load() of an
 * uncompressed arm64 Image (the only format arm64's kexec_file_load
 * accepts) with an initramfs and a command line, then, unless loading the
 * crash kernel, reboot(LINUX_REBOOT_CMD_KEXEC). Static, no kexec-tools.
 *
 * usage: kexec_file [-p] IMAGE INITRD "COMMAND LINE"
 *   -p  load a crash kernel (KEXEC_FILE_ON_CRASH) and return; a panic
 *       then boots it
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long flags = 0;
	int kfd, ifd, i = 1;

	if (argc > 1 && !strcmp(argv[1], "-p")) {
		flags |= KEXEC_FILE_ON_CRASH;
		i++;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: %s [-p] IMAGE INITRD CMDLINE\n", argv[0]);
		return 2;
	}
	kfd = open(argv[i], O_RDONLY);
	ifd = open(argv[i + 1], O_RDONLY);
	if (kfd < 0 || ifd < 0) {
		perror("open");
		return 1;
	}
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[i + 2]) + 1,
		    argv[i + 2], flags)) {
		fprintf(stderr, "kexec_file_load: %s\n", strerror(errno));
		return 1;
	}
	printf("kexec_file: loaded %s%s\n", argv[i],
	       flags & KEXEC_FILE_ON_CRASH ? " as the crash kernel" : "");
	if (flags & KEXEC_FILE_ON_CRASH)
		return 0;
	fflush(stdout);
	sync();
	/* A timestamped mark in the kernel log: the start of the kexec. */
	kfd = open("/dev/kmsg", O_WRONLY);
	if (kfd >= 0) {
		static const char mark[] = "kexec_file: reboot(LINUX_REBOOT_CMD_KEXEC)\n";

		if (write(kfd, mark, sizeof(mark) - 1) < 0)
			perror("/dev/kmsg");
		close(kfd);
	}
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		LINUX_REBOOT_CMD_KEXEC, NULL);
	fprintf(stderr, "reboot(LINUX_REBOOT_CMD_KEXEC): %s\n", strerror(errno));
	return 1;
}
