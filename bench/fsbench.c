/*
 * fsbench.c - file-system operations in a loop, for comparing a kvfs mount
 * with a passthrough FUSE file system and with tmpfs itself.
 *
 *   bench/fsbench [--label L] [--reps R] [--xattr NAME] DIR N [LISTDIR]
 *   bench/fsbench --populate DIR N
 *
 * In DIR/fsbench it creates N small JSON files (create+write+close), then
 * times R passes of stat, open+read+close and getxattr over them, renames
 * each one, unlinks them, and, given LISTDIR, reads that whole directory R
 * times (opendir+readdir+closedir). One JSON line per phase:
 *
 *   {"fs":"kvfs","phase":"stat","n":10000,"seconds":0.41,"ops_per_s":24390.2,"us_per_op":41.0}
 *
 * For readdir one operation is one directory entry. getxattr asks for NAME
 * (default user.kv.versionstamp); where the file system does not provide it
 * (tmpfs), it is set first, untimed. --populate creates N files named 0..N-1
 * in DIR, for the listing on file systems other than kvfs.
 *
 * A phase the file system refuses (getxattr, rename, unlink) prints
 * {"fs":...,"phase":...,"error":"..."}; the others still run, and the exit
 * status is 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *label = "fs";
static const char *xattr_name = "user.kv.versionstamp";
static size_t reps = 3;
static int failed;   /* a phase could not run: exit 1 at the end */

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fsbench: %s '%s': %s\n", what, path, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void report(const char *phase, size_t n, double seconds)
{
	printf("{\"fs\":\"%s\",\"phase\":\"%s\",\"n\":%zu,\"seconds\":%.6f,"
	       "\"ops_per_s\":%.1f,\"us_per_op\":%.2f}\n",
	       label, phase, n, seconds, seconds > 0 ? (double) n / seconds : 0.0,
	       n ? seconds * 1e6 / (double) n : 0.0);
	fflush(stdout);
}

/* A phase the file system refuses: say so in the output and go on. */
static void report_error(const char *phase, const char *path)
{
	int e = errno;

	fprintf(stderr, "fsbench: %s '%s': %s\n", phase, path, strerror(e));
	printf("{\"fs\":\"%s\",\"phase\":\"%s\",\"error\":\"%s\"}\n", label, phase,
	       strerror(e));
	fflush(stdout);
	failed = 1;
}

static char **make_paths(const char *dir, const char *prefix, size_t n)
{
	char **p = malloc(n * sizeof(*p));

	if (!p) {
		fprintf(stderr, "fsbench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		if (asprintf(&p[i], "%s/%s%zu", dir, prefix, i) < 0) {
			fprintf(stderr, "fsbench: out of memory\n");
			exit(1);
		}
	return p;
}

static void write_value(const char *path, size_t i)
{
	char buf[128];
	int len = snprintf(buf, sizeof(buf),
	                   "{\"i\":%zu,\"name\":\"user%zu\",\"tags\":[\"a\",\"b\"]}\n", i, i);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("cannot create", path);
	if (write(fd, buf, (size_t) len) != len)
		die("cannot write", path);
	if (close(fd) != 0)
		die("cannot close", path);
}

static void populate(const char *dir, size_t n)
{
	char **p = make_paths(dir, "", n);

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("cannot mkdir", dir);
	for (size_t i = 0; i < n; i++) {
		write_value(p[i], i);
		free(p[i]);
	}
	free(p);
}

static void phase_create(char **p, size_t n)
{
	double t0 = now();

	for (size_t i = 0; i < n; i++)
		write_value(p[i], i);
	report("create", n, now() - t0);
}

static void phase_stat(char **p, size_t n)
{
	struct stat st;
	double t0 = now();

	for (size_t r = 0; r < reps; r++)
		for (size_t i = 0; i < n; i++)
			if (stat(p[i], &st) != 0)
				die("cannot stat", p[i]);
	report("stat", n * reps, now() - t0);
}

static void phase_read(char **p, size_t n)
{
	char buf[4096];
	double t0 = now();

	for (size_t r = 0; r < reps; r++)
		for (size_t i = 0; i < n; i++) {
			int fd = open(p[i], O_RDONLY);
			if (fd < 0)
				die("cannot open", p[i]);
			if (read(fd, buf, sizeof(buf)) <= 0)
				die("cannot read", p[i]);
			close(fd);
		}
	report("read", n * reps, now() - t0);
}

static void phase_getxattr(char **p, size_t n)
{
	char buf[256];
	double t0;

	/* tmpfs has no versionstamps: give each file one, untimed */
	for (size_t i = 0; i < n; i++)
		if (getxattr(p[i], xattr_name, buf, sizeof(buf)) < 0) {
			if (errno != ENODATA ||
			    setxattr(p[i], xattr_name, "00000000000000010000", 20, 0) != 0) {
				report_error("getxattr", p[i]);
				return;
			}
		}
	t0 = now();
	for (size_t r = 0; r < reps; r++)
		for (size_t i = 0; i < n; i++)
			if (getxattr(p[i], xattr_name, buf, sizeof(buf)) < 0) {
				report_error("getxattr", p[i]);
				return;
			}
	report("getxattr", n * reps, now() - t0);
}

/* Rename from[i] to to[i]; cur[i] follows each file's name. */
static void phase_rename(char **from, char **to, char **cur, size_t n)
{
	double t0 = now();

	for (size_t i = 0; i < n; i++) {
		if (rename(from[i], to[i]) != 0) {
			report_error("rename", from[i]);
			return;
		}
		cur[i] = to[i];
	}
	report("rename", n, now() - t0);
}

static void phase_unlink(char **p, size_t n)
{
	double t0 = now();

	for (size_t i = 0; i < n; i++)
		if (unlink(p[i]) != 0) {
			report_error("unlink", p[i]);
			return;
		}
	report("unlink", n, now() - t0);
}

static void phase_readdir(const char *dir)
{
	size_t total = 0, first = 0;
	double t0 = now();

	for (size_t r = 0; r < reps; r++) {
		size_t count = 0;
		struct dirent *d;
		DIR *dh = opendir(dir);

		if (!dh)
			die("cannot opendir", dir);
		errno = 0;
		while ((d = readdir(dh)) != NULL)
			if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
				count++;
		if (errno)
			die("cannot readdir", dir);
		closedir(dh);
		if (r == 0)
			first = count;
		else if (count != first) {
			fprintf(stderr, "fsbench: '%s' listed %zu entries, then %zu\n", dir,
			        first, count);
			exit(1);
		}
		total += count;
	}
	report("readdir", total, now() - t0);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: fsbench [--label L] [--reps R] [--xattr NAME] DIR N [LISTDIR]\n"
	        "       fsbench --populate DIR N\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		usage();
	return (size_t) v;
}

int main(int argc, char **argv)
{
	char *work, **files, **renamed, **cur;
	size_t n;
	int i;

	if (argc == 4 && !strcmp(argv[1], "--populate")) {
		populate(argv[2], parse_size(argv[3]));
		return 0;
	}
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--label"))
			label = argv[i + 1];
		else if (!strcmp(argv[i], "--reps"))
			reps = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--xattr"))
			xattr_name = argv[i + 1];
		else
			usage();
	}
	if (argc - i != 2 && argc - i != 3)
		usage();
	n = parse_size(argv[i + 1]);
	if (asprintf(&work, "%s/fsbench", argv[i]) < 0)
		return 1;
	if (mkdir(work, 0755) == 0 || errno == EEXIST) {
		files = make_paths(work, "", n);
		renamed = make_paths(work, "r", n);
	} else {
		/* no mkdir on this mount: work in DIR itself */
		fprintf(stderr, "fsbench: cannot mkdir '%s' (%s); using '%s'\n", work,
		        strerror(errno), argv[i]);
		files = make_paths(argv[i], "fsbench-", n);
		renamed = make_paths(argv[i], "fsbench-r", n);
	}

	cur = malloc(n * sizeof(*cur));
	if (!cur)
		return 1;
	memcpy(cur, files, n * sizeof(*cur));

	phase_create(files, n);
	phase_stat(files, n);
	phase_read(files, n);
	phase_getxattr(files, n);
	phase_rename(files, renamed, cur, n);
	phase_unlink(cur, n);
	rmdir(work);
	if (argc - i == 3)
		phase_readdir(argv[i + 2]);
	for (size_t k = 0; k < n; k++) {
		free(files[k]);
		free(renamed[k]);
	}
	free(cur);
	free(files);
	free(renamed);
	free(work);
	return failed;
}
