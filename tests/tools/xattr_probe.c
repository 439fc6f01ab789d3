/*
 * xattr_probe - call getxattr(2) or listxattr(2) with a buffer of a given
 * size, as a program that sizes its own buffer would (getfattr and
 * Python always ask for the length first, so they never meet ERANGE).
 *
 *   xattr_probe PATH NAME SIZE    getxattr; NAME "-" means listxattr
 *
 * Prints the returned length (and, for a non-zero SIZE, the bytes, NULs
 * shown as '|'), or the errno's name; exits 0 either way, 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static const char *errname(int e)
{
	switch (e) {
	case ERANGE: return "ERANGE";
	case ENODATA: return "ENODATA";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ENOTSUP: return "ENOTSUP";
	case ENOSYS: return "ENOSYS";
	case E2BIG: return "E2BIG";
	default: return "other";
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: xattr_probe PATH NAME|- SIZE\n");
		return 2;
	}
	size_t size = strtoul(argv[3], NULL, 10);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf)
		return 2;
	ssize_t n = strcmp(argv[2], "-") == 0 ? listxattr(argv[1], buf, size)
	                                       : getxattr(argv[1], argv[2], buf, size);
	if (n < 0) {
		printf("%s\n", errname(errno));
	} else {
		printf("%zd", n);
		if (size) {
			putchar(' ');
			for (ssize_t i = 0; i < n; i++)
				putchar(buf[i] ? buf[i] : '|');
		}
		putchar('\n');
	}
	free(buf);
	return 0;
}
