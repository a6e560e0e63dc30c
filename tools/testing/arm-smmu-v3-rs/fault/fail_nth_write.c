// SPDX-License-Identifier: GPL-2.0
/*
 * Fails the N-th allocation (or other fault-injection point) of exactly
 * one write() system call: opens FILE and the thread's fail-nth first, so
 * that neither open() is what fails, arms fail-nth with N, writes VALUE,
 * and reads back whether the fault was injected.
 *
 * usage: fail_nth_write N FILE VALUE
 * Prints "<ok|errno name> <injected|not-injected>"; exits 0 if it could
 * run the experiment, 2 on a usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[32];
	int fd, nth, err = 0;
	ssize_t n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s N FILE VALUE\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], O_WRONLY);
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0 || nth < 0) {
		perror("open");
		return 2;
	}
	if (write(nth, argv[1], strlen(argv[1])) < 0) {
		perror("fail-nth");
		return 2;
	}
	if (write(fd, argv[3], strlen(argv[3])) < 0)
		err = errno;
	/* Read by an open file: no allocation that could take the fault. */
	n = pread(nth, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	/* Disarm, in case nothing used the fault. */
	if (write(nth, "0", 1) < 0)
		return 2;
	printf("%s %s\n", err ? strerrorname_np(err) : "ok",
	       atoi(buf) == 0 ? "injected" : "not-injected");
	return 0;
}
