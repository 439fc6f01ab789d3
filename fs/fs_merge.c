/*
 * fs_merge.c - a directory's children in key order: the ones the store
 * holds, merged with the ones that exist only in memory.
 *
 * Both trees list that way: the key tree merges the store with the
 * directories made by mkdir and the files created empty (fs_ops.c), a
 * transaction merges it with the keys it stages (fs_tx.c). The stored
 * children come from kv_children, batch by batch; the extras are a small
 * sorted array the lister made at opendir. A key in both is one child,
 * with both its stored entry and its extra, and the lister decides what it
 * shows. A merge holds its place between calls, so a listing can be kept
 * from one reply to the next.
 */
#include <string.h>
#include "fs.h"

int fs_merge_start(struct fs_merge *m, kv_db *db, const uint8_t *dir, size_t dir_len,
                   const uint8_t *after, size_t after_len,
                   const struct fs_extra *x, size_t nx, int names_only)
{
	memset(m, 0, sizeof(*m));
	m->x = x;
	m->nx = nx;
	while (after && m->xi < nx && fs_key_cmp(x[m->xi].key, x[m->xi].len, after, after_len) <= 0)
		m->xi++;
	int rc = names_only ? kv_children_keys(db, dir, dir_len, after, after_len, &m->it)
	                    : kv_children(db, dir, dir_len, after, after_len, &m->it);
	if (rc != KV_OK)
		m->it = NULL;
	return rc;
}

int fs_merge_peek(struct fs_merge *m, const uint8_t **key, size_t *len,
                  const kv_entry **stored, const struct fs_extra **extra)
{
	if (!m->have && m->it) {
		int rc = kv_iter_next(m->it, &m->e);
		if (rc == KV_OK) {
			m->have = 1;
		} else {
			kv_iter_free(m->it);
			m->it = NULL;
			if (rc != KV_DONE)
				return rc;
		}
	}
	const struct fs_extra *x = m->xi < m->nx ? &m->x[m->xi] : NULL;
	if (!x && !m->have)
		return KV_DONE;
	int c = !x ? 1 : !m->have ? -1 : fs_key_cmp(x->key, x->len, m->e->key, m->e->key_len);
	m->take_x = c <= 0;
	m->take_e = c >= 0;
	*stored = m->take_e ? m->e : NULL;
	*extra = m->take_x ? x : NULL;
	*key = m->take_x ? x->key : m->e->key;
	*len = m->take_x ? x->len : m->e->key_len;
	return KV_OK;
}

void fs_merge_take(struct fs_merge *m)
{
	if (m->take_x)
		m->xi++;
	if (m->take_e)
		m->have = 0;
	m->take_x = m->take_e = 0;
}

void fs_merge_free(struct fs_merge *m)
{
	kv_iter_free(m->it);
	memset(m, 0, sizeof(*m));
}
