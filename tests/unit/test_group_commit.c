/*
 * test_group_commit.c - many threads committing at once through group
 * commit: exact counters, per-commit checks, unique increasing versions,
 * and a failing member leaving the rest of its group intact.
 */
#include <pthread.h>
#include <stdint.h>
#include "test.h"

#define THREADS 16
#define ROUNDS 200

static kv_db *db;
static const uint8_t K_COUNT[] = { 0x02, 'n', 0x00 };
static const uint8_t K_ONCE[] = { 0x02, 'o', 0x00 };
static const uint8_t K_BAD[] = { 0x02, 'b', 0x00 };
static uint64_t versions[THREADS][ROUNDS];
static int results[THREADS][ROUNDS];

static void *summer(void *arg)
{
	int t = (int) (intptr_t) arg;
	uint64_t last = 0;
	for (int i = 0; i < ROUNDS; i++) {
		kv_atomic *a;
		uint64_t v = 0;
		if (kv_atomic_begin(db, &a) || kv_atomic_sum(a, K_COUNT, sizeof(K_COUNT), 3)) {
			results[t][i] = -1;
			continue;
		}
		results[t][i] = kv_atomic_commit(a, &v);
		versions[t][i] = v;
		if (v <= last)
			results[t][i] = -2;
		last = v;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

static void test_group_commit__counter_is_exact(void)
{
	pthread_t th[THREADS];
	static uint64_t all[THREADS * ROUNDS];
	kv_entry *e = NULL;

	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, summer, (void *) (intptr_t) t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	int ok = 1;
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < ROUNDS; i++) {
			ok &= results[t][i] == KV_OK;
			all[t * ROUNDS + i] = versions[t][i];
		}
	CHECK(ok);
	qsort(all, THREADS * ROUNDS, sizeof(all[0]), cmp_u64);
	int unique = 1;
	for (int i = 1; i < THREADS * ROUNDS; i++)
		unique &= all[i] > all[i - 1];
	CHECK(unique);
	CHECK_RC(kv_get(db, K_COUNT, sizeof(K_COUNT), &e), KV_OK);
	if (e) {
		uint64_t n = 0;
		for (int i = 7; i >= 0; i--)
			n = n << 8 | e->value[i];
		CHECK(n == 3u * THREADS * ROUNDS);
		/* the row carries the version of the last commit */
		CHECK(e->version == all[THREADS * ROUNDS - 1]);
	}
	kv_free(e);
	uint64_t dv = 0;
	CHECK_RC(kv_version(db, &dv), KV_OK);
	CHECK(dv == all[THREADS * ROUNDS - 1]);
}

/*
 * Each thread tries "create K_ONCE if absent" and, in the same group,
 * half the threads also sum onto a non-KvU64 value: exactly one create
 * wins, every bad sum fails with KV_TYPE alone, and the plain commits
 * in between all succeed.
 */
static pthread_barrier_t barrier;

static void *racer(void *arg)
{
	int t = (int) (intptr_t) arg;
	uint8_t mine[8] = { 0x02, 'm', (uint8_t) ('a' + t), 0x00 };
	kv_atomic *a;

	pthread_barrier_wait(&barrier);
	kv_atomic_begin(db, &a);
	kv_atomic_check(a, K_ONCE, sizeof(K_ONCE), NULL);
	kv_atomic_set(a, K_ONCE, sizeof(K_ONCE), KV_ENCODING_BYTES, &t, sizeof(t), -1);
	results[t][0] = kv_atomic_commit(a, &versions[t][0]);

	kv_atomic_begin(db, &a);
	kv_atomic_set(a, mine, 4, KV_ENCODING_BYTES, "x", 1, -1);
	if (t % 2)
		kv_atomic_sum(a, K_BAD, sizeof(K_BAD), 1);
	results[t][1] = kv_atomic_commit(a, &versions[t][1]);
	return NULL;
}

static void test_group_commit__checks_fail_alone(void)
{
	pthread_t th[THREADS];
	kv_entry *e = NULL;

	CHECK_RC(kv_set(db, K_BAD, sizeof(K_BAD), KV_ENCODING_V8, "\xff\x10\x30", 3, -1, NULL),
	         KV_OK);
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, racer, (void *) (intptr_t) t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&barrier);
	int winners = 0, conflicts = 0, winner = -1;
	for (int t = 0; t < THREADS; t++) {
		if (results[t][0] == KV_OK) {
			winners++;
			winner = t;
		} else if (results[t][0] == KV_CONFLICT) {
			conflicts++;
		}
	}
	CHECK(winners == 1);
	CHECK(conflicts == THREADS - 1);
	CHECK_RC(kv_get(db, K_ONCE, sizeof(K_ONCE), &e), KV_OK);
	if (e && winner >= 0) {
		CHECK_MEM(e->value, e->value_len, &winner, sizeof(winner));
		CHECK(e->version == versions[winner][0]);
	}
	kv_free(e);
	for (int t = 0; t < THREADS; t++) {
		uint8_t mine[8] = { 0x02, 'm', (uint8_t) ('a' + t), 0x00 };
		CHECK_RC(results[t][1], t % 2 ? KV_TYPE : KV_OK);
		int rc = kv_get(db, mine, 4, &e);
		CHECK(rc == (t % 2 ? KV_NOTFOUND : KV_OK));
		kv_free(e);
		e = NULL;
	}
}

/*
 * 64 threads of kv_set in flight: each waiter is woken with its own
 * result (the version stored under its own key), whether it led a group,
 * was passed the lead, or only waited.
 */
#define WIDE 64
#define WIDE_ROUNDS 40

static uint64_t wide_versions[WIDE][WIDE_ROUNDS];
static int wide_results[WIDE][WIDE_ROUNDS];

static void *wide_setter(void *arg)
{
	int t = (int) (intptr_t) arg;
	for (int i = 0; i < WIDE_ROUNDS; i++) {
		uint8_t k[8] = { 0x02, 'w', 0x00, 0x16, (uint8_t) (1 + t), (uint8_t) i };
		wide_results[t][i] = kv_set(db, k, 6, KV_ENCODING_BYTES, &i, sizeof(i), -1,
		                            &wide_versions[t][i]);
	}
	return NULL;
}

static void test_group_commit__each_waiter_gets_its_own_result(void)
{
	pthread_t th[WIDE];
	static uint64_t all[WIDE * WIDE_ROUNDS];
	int ok = 1;

	for (int t = 0; t < WIDE; t++)
		pthread_create(&th[t], NULL, wide_setter, (void *) (intptr_t) t);
	for (int t = 0; t < WIDE; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < WIDE; t++)
		for (int i = 0; i < WIDE_ROUNDS; i++) {
			uint8_t k[8] = { 0x02, 'w', 0x00, 0x16, (uint8_t) (1 + t), (uint8_t) i };
			kv_entry *e = NULL;
			ok &= wide_results[t][i] == KV_OK;
			ok &= kv_get(db, k, 6, &e) == KV_OK && e && e->version == wide_versions[t][i]
				&& e->value_len == sizeof(i) && memcmp(e->value, &i, sizeof(i)) == 0;
			kv_free(e);
			all[t * WIDE_ROUNDS + i] = wide_versions[t][i];
		}
	CHECK(ok);
	qsort(all, WIDE * WIDE_ROUNDS, sizeof(all[0]), cmp_u64);
	int unique = 1;
	for (int i = 1; i < WIDE * WIDE_ROUNDS; i++)
		unique &= all[i] > all[i - 1];
	CHECK(unique);
}

int main(void)
{
	char dir[64], path[128];
	test_tmpdir("group", dir);
	snprintf(path, sizeof(path), "%s/g.sqlite3", dir);
	if (kv_open(path, 0, &db)) {
		printf("not ok 1 - open: %s\n", kv_errmsg(NULL));
		return 1;
	}
	RUN(test_group_commit__counter_is_exact);
	RUN(test_group_commit__checks_fail_alone);
	RUN(test_group_commit__each_waiter_gets_its_own_result);
	kv_close(db);
	return DONE();
}
