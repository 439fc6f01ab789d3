/*
 * fs_watch.c - reading a .watch file: a stream of JSON lines, one per change.
 *
 * Design
 *
 * `.watch/a/b` streams the key ["a","b"]: the first line is its current
 * state, then one line per change, each
 *   {"key":[...],"value":...,"versionstamp":"..."}
 * with value and versionstamp null while the key is absent, like Deno's
 * kv.watch. `.watch/a/.all` streams every change under the prefix ["a"]
 * (one line per changed key, deletions included); it starts with the
 * changes after the open, not with the current state of the prefix.
 * Changes are coalesced as in Deno: a reader sees the state at the time
 * of a scan, not every intermediate version.
 *
 * A read never blocks a worker thread. Each open handle keeps a stream
 * buffer; a read at an offset inside it is answered at once (never with
 * more bytes than asked), a read at the end is parked: its fuse_req_t is
 * kept with the handle and answered later by the watch thread, or with
 * EINTR by the interrupt callback (Ctrl-C). The file is seekable (bash
 * and head seek back after reading past a newline, tail reads its last
 * block first), so reads are served by offset; bytes below the offset of a
 * read that goes forward are never asked for again and are dropped, so a
 * handle keeps only what its reader has not consumed. Its size is its
 * stream's (fs_watch_size), which is how tail -f follows it. A reader that falls behind by more than WATCH_BUF_MAX loses
 * the oldest lines it has not started to read (whole lines: the stream
 * stays line by line); the newest line is always kept.
 *
 * poll/select/epoll: a handle is readable when its buffer holds bytes past
 * the end of the last reply (a reader that seeks back is served from the
 * buffer, but poll judges by what it has not been sent yet). A poller that
 * waits leaves a poll handle, notified when the next lines arrive, whether
 * or not lines were waiting when it polled (edge-triggered epoll asks
 * again only when notified). A read at the end with O_NONBLOCK fails with
 * EAGAIN instead of parking.
 *
 * The watch thread wakes every poll_ms (the mount's bound for other
 * writers) and at once when this mount commits (fs_watch_poke from the op
 * table, and from a transaction's commit). It reads kv_version; each
 * handle that has not seen that version re-reads its key (or lists its
 * prefix, comparing with a snapshot of the keys and versions under it,
 * which is how deletions by other writers are seen; the snapshot holds at
 * most WATCH_SNAP_MAX keys, deletions beyond that are not reported).
 *
 * Locking: w->lock guards the handle list, every handle's buffer, parked
 * requests and refs. The scanner's own fields (seen, the last state, the
 * snapshot) are touched only by the watch thread, and by open before the
 * handle is listed. Engine calls and replies happen without w->lock.
 * libfuse holds the request's lock while it calls the interrupt callback,
 * which takes w->lock: so the read handler registers the callback before
 * taking w->lock, and then checks fuse_req_interrupted under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs.h"

#define WATCH_BUF_MAX   (1024 * 1024)
#define WATCH_SNAP_MAX  10000

struct parked {
	fuse_req_t req;
	size_t size;
	off_t off;
	struct parked *next;
};

struct snap {
	uint8_t *key;
	size_t len;
	uint64_t version;
};

struct whandle {
	int prefix;             /* .all: every key under `key` */
	uint8_t *key;
	size_t key_len;

	/* the scanner's (watch thread, or open before listing) */
	uint64_t seen;          /* kv_version at the last scan */
	int present;            /* one key: it had a value at the last scan */
	uint64_t version;       /* ... of this version */
	struct snap *snap;      /* prefix: keys under it at the last scan, key order */
	size_t nsnap;
	int partial;            /* more keys than the snapshot holds */
	struct snap *ahead;     /* keys past the snapshot that the last scan reported
	                           with a version newer than it began at: not again */
	size_t nahead;

	/* guarded by w->lock */
	char *buf;
	size_t len, cap;
	uint64_t base;          /* stream offset of buf[0] */
	uint64_t hwm;           /* end of the bytes already replied */
	uint64_t last_off;      /* offset of the last read */
	int one;                /* its size was told as 1 while empty (fs_watch_size) */
	struct timespec added;  /* when lines were last added (fs_watch_size) */
	struct parked *parked;
	struct fuse_pollhandle *ph;  /* a poller waiting for the next lines */
	int released;
	unsigned refs;          /* the open file, and the scanner while it works */
	struct whandle *next;
};

struct fs_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct whandle *handles;
	int stop;
	int poked;
	pthread_t thread;
	struct fs_data *fs;
};

/* A reply to send once w->lock is released. */
struct answer {
	fuse_req_t req;
	char *data;
	size_t len;
	int err;
	struct answer *next;
};

static void send_answers(struct answer *a)
{
	while (a) {
		struct answer *next = a->next;
		if (a->err)
			fuse_reply_err(a->req, a->err);
		else
			fuse_reply_buf(a->req, a->data, a->len);
		free(a->data);
		free(a);
		a = next;
	}
}

static void snaps_free(struct snap *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].key);
	free(s);
}

static void snap_free(struct whandle *h)
{
	snaps_free(h->snap, h->nsnap);
	h->snap = NULL;
	h->nsnap = 0;
}

/* Add a copy of e's key and version to s; 0, or -1 when out of memory. */
static int snap_add(struct snap **s, size_t *n, size_t *cap, const kv_entry *e)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct snap *g = realloc(*s, c * sizeof(*g));
		if (!g)
			return -1;
		*s = g;
		*cap = c;
	}
	if (!((*s)[*n].key = malloc(e->key_len ? e->key_len : 1)))
		return -1;
	memcpy((*s)[*n].key, e->key, e->key_len);
	(*s)[*n].len = e->key_len;
	(*s)[(*n)++].version = e->version;
	return 0;
}

static int was_ahead(const struct whandle *h, const kv_entry *e)
{
	for (size_t i = 0; i < h->nahead; i++)
		if (h->ahead[i].version == e->version && h->ahead[i].len == e->key_len &&
		    memcmp(h->ahead[i].key, e->key, e->key_len) == 0)
			return 1;
	return 0;
}

static void handle_free(struct whandle *h)
{
	snap_free(h);
	snaps_free(h->ahead, h->nahead);
	free(h->key);
	free(h->buf);
	free(h);
}

/* ---- lines ---- */

struct text {
	char *s;
	size_t len, cap;
	int err;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->err)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->s, cap);
		if (!p) {
			t->err = ENOMEM;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = 0;
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Append one change line: `e` NULL when the key is absent. */
static void add_line(struct text *t, const uint8_t *key, size_t key_len, const kv_entry *e)
{
	char *kj = NULL, *vj = NULL;
	size_t vlen = 0;

	if (kv_key_to_json(key, key_len, &kj) != KV_OK) {
		t->err = t->err ? t->err : EIO;
		return;
	}
	text_str(t, "{\"key\":");
	text_str(t, kj);
	if (e && kv_value_to_json(e->encoding, e->value, e->value_len, 0, &vj, &vlen) == KV_OK) {
		char stamp[21];
		kv_versionstamp_format(e->version, stamp);
		text_str(t, ",\"value\":");
		text_add(t, vj, vlen);
		text_str(t, ",\"versionstamp\":\"");
		text_str(t, stamp);
		text_str(t, "\"}\n");
	} else {
		text_str(t, ",\"value\":null,\"versionstamp\":null}\n");
	}
	kv_free(kj);
	kv_free(vj);
}

/* One key: a line when its state differs from the last one reported. */
static void scan_key(struct fs_data *fs, struct whandle *h, struct text *t, int first)
{
	kv_entry *e = NULL;
	int rc = kv_get(fs->db, h->key, h->key_len, &e);

	if (rc != KV_OK && rc != KV_NOTFOUND)
		return;         /* try again at the next scan */
	if (rc == KV_OK && (first || !h->present || e->version != h->version)) {
		add_line(t, h->key, h->key_len, e);
		h->present = 1;
		h->version = e->version;
	} else if (rc == KV_NOTFOUND && (first || h->present)) {
		add_line(t, h->key, h->key_len, NULL);
		h->present = 0;
	}
	kv_free(e);
}

/*
 * A prefix: list it, report keys whose version differs from the snapshot
 * (or, past the snapshot's size, that are newer than the last scan), and
 * the snapshot's keys that are gone. `quiet` builds the first snapshot.
 */
static void scan_prefix(struct fs_data *fs, struct whandle *h, struct text *t, int quiet,
                        uint64_t before)
{
	kv_selector sel = { .prefix = h->key, .prefix_len = h->key_len };
	kv_list_options lo = { .batch_size = 500 };
	kv_iter *it = NULL;
	const kv_entry *e;
	struct snap *ns = NULL, *na = NULL;
	size_t n = 0, cap = 0, oi = 0, nna = 0, cana = 0;
	int partial = 0, rc;

	if ((rc = kv_list(fs->db, &sel, &lo, &it)) != KV_OK)
		return;
	while ((rc = kv_iter_next(it, &e)) == KV_OK) {
		/* Old keys before this one are gone. */
		while (oi < h->nsnap) {
			struct snap *o = &h->snap[oi];
			size_t m = o->len < e->key_len ? o->len : e->key_len;
			int c = memcmp(o->key, e->key, m);
			if (c > 0 || (c == 0 && o->len >= e->key_len))
				break;
			if (!quiet)
				add_line(t, o->key, o->len, NULL);
			oi++;
		}
		int known = oi < h->nsnap && h->snap[oi].len == e->key_len &&
		            memcmp(h->snap[oi].key, e->key, e->key_len) == 0;
		int changed = known ? h->snap[oi].version != e->version
		                    : !h->partial || (e->version > h->seen && !was_ahead(h, e));
		if (known)
			oi++;
		if (!quiet && changed)
			add_line(t, e->key, e->key_len, e);
		if (n == WATCH_SNAP_MAX || snap_add(&ns, &n, &cap, e) < 0) {
			/*
			 * Past the snapshot a key is judged by its version against
			 * the last scan's start; one committed after this scan began
			 * would be judged new again next time.
			 */
			partial = 1;
			if (e->version > before && nna < WATCH_SNAP_MAX)
				snap_add(&na, &nna, &cana, e);
		}
	}
	kv_iter_free(it);
	if (rc != KV_DONE) {
		snaps_free(ns, n);
		snaps_free(na, nna);
		return;         /* the old snapshot stays; try again next time */
	}
	snaps_free(h->ahead, h->nahead);
	h->ahead = na;
	h->nahead = nna;
	for (; oi < h->nsnap && !quiet; oi++)
		add_line(t, h->snap[oi].key, h->snap[oi].len, NULL);
	snap_free(h);
	h->snap = ns;
	h->nsnap = n;
	h->partial = partial;
}

/* ---- the stream buffer (w->lock held) ---- */

static int at_line_start(const struct whandle *h, uint64_t off)
{
	return off == h->base ? 1 : h->buf[off - h->base - 1] == '\n';
}

/* Over the bound: drop the oldest lines nobody has started to read. */
static void bound_buffer(struct whandle *h)
{
	if (h->len <= WATCH_BUF_MAX)
		return;
	uint64_t p = h->hwm > h->base ? h->hwm : h->base;
	while (p < h->base + h->len && !at_line_start(h, p))
		p++;
	size_t start = (size_t) (p - h->base);
	while (h->len > WATCH_BUF_MAX) {
		char *nl = memchr(h->buf + start, '\n', h->len - start);
		if (!nl)
			break;
		size_t end = (size_t) (nl - h->buf) + 1;
		if (end >= h->len)
			break;      /* the newest line stays */
		memmove(h->buf + start, h->buf + end, h->len - end);
		h->len -= end - start;
	}
}

static int append(struct whandle *h, const char *s, size_t n)
{
	if (h->len + n > h->cap) {
		size_t cap = h->cap ? h->cap : 1024;
		while (cap < h->len + n)
			cap *= 2;
		char *b = realloc(h->buf, cap);
		if (!b)
			return ENOMEM;
		h->buf = b;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	bound_buffer(h);
	return 0;
}

/* Bytes below `off` are never read again. */
static void trim(struct whandle *h, uint64_t off)
{
	if (off <= h->base || off > h->hwm)
		return;
	size_t drop = (size_t) (off - h->base);
	if (drop > h->len)
		drop = h->len;
	memmove(h->buf, h->buf + drop, h->len - drop);
	h->len -= drop;
	h->base += drop;
}

/* Bytes the reader has not been sent yet. */
static int readable(const struct whandle *h)
{
	return h->base + h->len > h->hwm;
}

/* Take the handle's waiting poller, to notify once w->lock is released. */
static struct fuse_pollhandle *take_poller(struct whandle *h)
{
	struct fuse_pollhandle *ph = h->ph;
	h->ph = NULL;
	return ph;
}

static void notify_poller(struct fuse_pollhandle *ph)
{
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
}

/*
 * Answer a read from the buffer, or return NULL when nothing is there yet.
 * A read forward drops what lies below it; one that goes back (tail reads
 * a file's last block first, then the ones before it) keeps it.
 */
static struct answer *serve(struct whandle *h, fuse_req_t req, size_t size, off_t off)
{
	if (h->one && off == 1 && !h->hwm && !h->base)
		h->base = 1;    /* read from the end it was told of an empty stream: it starts there */
	uint64_t o = (uint64_t) off < h->base ? h->base : (uint64_t) off;
	if ((uint64_t) off >= h->last_off)
		trim(h, o);
	h->last_off = (uint64_t) off;
	if (o >= h->base + h->len)
		return NULL;
	size_t n = (size_t) (h->base + h->len - o);
	if (n > size)
		n = size;
	struct answer *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->req = req;
	a->len = n;
	if (!(a->data = malloc(n))) {
		a->err = ENOMEM;
		a->len = 0;
	} else {
		memcpy(a->data, h->buf + (o - h->base), n);
	}
	if (o + n > h->hwm)
		h->hwm = o + n;
	return a;
}

/* Answer the parked reads that the buffer now satisfies (w->lock held). */
static struct answer *wake_parked(struct whandle *h, struct answer *list)
{
	struct parked **pp = &h->parked;
	while (*pp) {
		struct parked *p = *pp;
		struct answer *a = serve(h, p->req, p->size, p->off);
		if (!a) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
		a->next = list;
		list = a;
	}
	return list;
}

static void unref(struct fs_watch *w, struct whandle *h)
{
	(void) w;
	if (--h->refs == 0)
		handle_free(h);
}

/* ---- the thread ---- */

static void scan_all(struct fs_watch *w)
{
	struct fs_data *fs = w->fs;
	struct whandle **list = NULL;
	size_t n = 0;
	uint64_t v;

	if (kv_version(fs->db, &v) != KV_OK)
		return;
	pthread_mutex_lock(&w->lock);
	for (struct whandle *h = w->handles; h; h = h->next)
		if (h->seen != v)
			n++;
	list = n ? calloc(n, sizeof(*list)) : NULL;
	n = 0;
	for (struct whandle *h = w->handles; h && list; h = h->next)
		if (h->seen != v) {
			h->refs++;
			list[n++] = h;
		}
	pthread_mutex_unlock(&w->lock);

	for (size_t i = 0; i < n; i++) {
		struct whandle *h = list[i];
		struct text t = { 0 };
		struct answer *ans = NULL;
		struct fuse_pollhandle *ph = NULL;
		uint64_t now;
		if (kv_version(fs->db, &now) != KV_OK)
			now = v;
		if (h->prefix)
			scan_prefix(fs, h, &t, 0, now);
		else
			scan_key(fs, h, &t, 0);
		h->seen = now;
		pthread_mutex_lock(&w->lock);
		if (t.len && !h->released && append(h, t.s, t.len) == 0) {
			clock_gettime(CLOCK_REALTIME, &h->added);
			ans = wake_parked(h, NULL);
			ph = take_poller(h);
		}
		unref(w, h);
		pthread_mutex_unlock(&w->lock);
		send_answers(ans);
		notify_poller(ph);
		free(t.s);
	}
	free(list);
}

static void *watcher(void *arg)
{
	struct fs_watch *w = arg;
	unsigned poll_ms = w->fs->opt.poll_ms;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		if (!w->poked) {
			if (poll_ms) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += (long) (poll_ms % 1000) * 1000000L;
				ts.tv_sec += poll_ms / 1000 + ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
				pthread_cond_timedwait(&w->cond, &w->lock, &ts);
			} else {
				pthread_cond_wait(&w->cond, &w->lock);
			}
		}
		w->poked = 0;
		if (w->stop || !w->handles)
			continue;
		pthread_mutex_unlock(&w->lock);
		scan_all(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int fs_watch_start(struct fs_data *fs)
{
	struct fs_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->fs = fs;
	int rc = pthread_create(&w->thread, NULL, watcher, w);
	if (rc) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		return -rc;
	}
	fs->watch = w;
	return 0;
}

/* After the session loop: no handler runs any more. */
void fs_watch_stop(struct fs_data *fs)
{
	struct fs_watch *w = fs ? fs->watch : NULL;
	struct answer *ans = NULL;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (w->handles) {
		struct whandle *h = w->handles;
		w->handles = h->next;
		while (h->parked) {
			struct parked *p = h->parked;
			struct answer *a = calloc(1, sizeof(*a));
			h->parked = p->next;
			if (a) {
				a->req = p->req;
				a->err = EINTR;
				a->next = ans;
				ans = a;
			}
			free(p);
		}
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		handle_free(h);
	}
	send_answers(ans);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	fs->watch = NULL;
}

void fs_watch_poke(struct fs_data *fs)
{
	struct fs_watch *w = fs->watch;
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->handles) {
		w->poked = 1;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* ---- the handlers ---- */

int fs_watch_open(struct fs_data *fs, const uint8_t *key, size_t key_len,
                  int prefix, struct fuse_file_info *fi)
{
	struct fs_watch *w = fs->watch;
	struct whandle *h;
	struct text t = { 0 };

	if (!w)
		return EIO;
	if (!(h = calloc(1, sizeof(*h))) || !(h->key = malloc(key_len ? key_len : 1))) {
		free(h);
		return ENOMEM;
	}
	memcpy(h->key, key, key_len);
	h->key_len = key_len;
	h->prefix = prefix;
	h->refs = 1;
	if (kv_version(fs->db, &h->seen) != KV_OK) {
		handle_free(h);
		return EIO;
	}
	/* Read after taking the version: a commit in between is seen next scan. */
	if (prefix)
		scan_prefix(fs, h, &t, 1, h->seen);
	else
		scan_key(fs, h, &t, 1);
	if (t.err || (t.len && append(h, t.s, t.len) != 0)) {
		free(t.s);
		handle_free(h);
		return ENOMEM;
	}
	free(t.s);
	pthread_mutex_lock(&w->lock);
	h->next = w->handles;
	w->handles = h;
	if (t.len)
		clock_gettime(CLOCK_REALTIME, &h->added);
	pthread_mutex_unlock(&w->lock);
	fi->fh = (uintptr_t) h;
	fi->direct_io = 1;      /* every read reaches us; no size, no page cache */
	fi->keep_cache = 0;
	return 0;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct fs_watch *w = data;
	int found = 0;

	pthread_mutex_lock(&w->lock);
	for (struct whandle *h = w->handles; h && !found; h = h->next)
		for (struct parked **pp = &h->parked; *pp; pp = &(*pp)->next)
			if ((*pp)->req == req) {
				struct parked *p = *pp;
				*pp = p->next;
				free(p);
				found = 1;
				break;
			}
	pthread_mutex_unlock(&w->lock);
	if (found)
		fuse_reply_err(req, EINTR);
}

void fs_watch_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_data *fs = fuse_req_userdata(req);
	struct fs_watch *w = fs->watch;
	struct whandle *h = (struct whandle *) (uintptr_t) fi->fh;
	struct answer *a = NULL;
	int err = 0;

	/* Before w->lock: libfuse may call on_interrupt right here. */
	fuse_req_interrupt_func(req, on_interrupt, w);
	pthread_mutex_lock(&w->lock);
	if (!(a = serve(h, req, size, off))) {
		if (fuse_req_interrupted(req)) {
			err = EINTR;
		} else if (fi->flags & O_NONBLOCK) {
			err = EAGAIN;
		} else if (size == 0) {
			err = -1;
		} else {
			struct parked *p = calloc(1, sizeof(*p));
			if (!p) {
				err = ENOMEM;
			} else {
				*p = (struct parked) { req, size, off, h->parked };
				h->parked = p;
			}
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (a)
		send_answers(a);
	else if (err > 0)
		fuse_reply_err(req, err);
	else if (err < 0)
		fuse_reply_buf(req, NULL, 0);
}

/*
 * A watch file's size, as a file's: through a handle (lseek to the end),
 * what that handle's stream holds so far, from which tail reads its last
 * lines; otherwise (stat, fstat, which do not say which handle asks) the
 * longest stream of the file's open handles, so that it grows as lines
 * come and is never below a reader's position: a follower that polls the
 * size (tail -f, on a file system it counts as remote) reads on each
 * change and never sees the file shrink. The mtime is when lines last came.
 * An empty stream (.all before its first change) shows 1 through its
 * handle, since at 0 tail would read it as a pipe, to an end that never
 * comes; a reader that then reads from 1 finds the stream starting there.
 */
void fs_watch_size(struct fs_data *fs, struct fuse_file_info *fi, const uint8_t *key,
                   size_t key_len, int prefix, struct stat *st)
{
	struct fs_watch *w = fs->watch;
	struct whandle *h = fi ? (struct whandle *) (uintptr_t) fi->fh : NULL;
	uint64_t size = 0;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	if (h) {
		size = h->base + h->len;
		if (!size) {
			size = 1;
			h->one = 1;
		}
		if (h->added.tv_sec)
			st->st_mtim = h->added;
	}
	for (struct whandle *o = h ? NULL : w->handles; o; o = o->next) {
		if (o->released || o->prefix != prefix || !fs_key_equal(o->key, o->key_len, key, key_len))
			continue;
		uint64_t shown = o->base + o->len ? o->base + o->len : (uint64_t) o->one;
		if (shown > size)
			size = shown;
		if (o->added.tv_sec && (o->added.tv_sec > st->st_mtim.tv_sec ||
		    (o->added.tv_sec == st->st_mtim.tv_sec && o->added.tv_nsec > st->st_mtim.tv_nsec)))
			st->st_mtim = o->added;
	}
	pthread_mutex_unlock(&w->lock);
	st->st_size = (off_t) size;
	st->st_blocks = (blkcnt_t) ((size + 511) / 512);
	st->st_ctim = st->st_mtim;
}

void fs_watch_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs_data *fs = fuse_req_userdata(req);
	struct fs_watch *w = fs->watch;
	struct whandle *h = (struct whandle *) (uintptr_t) fi->fh;
	struct answer *ans = NULL;

	pthread_mutex_lock(&w->lock);
	for (struct whandle **pp = &w->handles; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	h->released = 1;
	if (h->ph)
		fuse_pollhandle_destroy(take_poller(h));
	/* The kernel releases only when no read is in flight; answer any anyway. */
	while (h->parked) {
		struct parked *p = h->parked;
		struct answer *a = calloc(1, sizeof(*a));
		h->parked = p->next;
		if (a) {
			a->req = p->req;
			a->next = ans;
			ans = a;
		}
		free(p);
	}
	unref(w, h);
	pthread_mutex_unlock(&w->lock);
	send_answers(ans);
	fuse_reply_err(req, 0);
}

void fs_watch_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct fs_data *fs = fuse_req_userdata(req);
	struct fs_watch *w = fs->watch;
	struct whandle *h = (struct whandle *) (uintptr_t) fi->fh;
	struct fuse_pollhandle *old = NULL;

	pthread_mutex_lock(&w->lock);
	int ready = readable(h);
	if (ph) {
		/*
		 * Kept even when lines wait: an edge-triggered epoll polls only
		 * when told, so the lines after these must tell it. Under
		 * w->lock, the next lines appended find it.
		 */
		old = h->ph;
		h->ph = ph;
	}
	pthread_mutex_unlock(&w->lock);
	if (old)
		fuse_pollhandle_destroy(old);
	fuse_reply_poll(req, ready ? POLLIN | POLLRDNORM : 0);
}
