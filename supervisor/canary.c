/*
 * supervisor/canary.c: the canary set (see canary.h), assembled at run
 * time. The EICAR string is put together from two halves, so that this
 * program is not itself a test file.
 */
#include "canary.h"

#include "../platform/plat.h"
#include "queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EICAR_A "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
#define EICAR_B "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define CANARY_MAX 4096
_Static_assert(5 <= SUP_CANARY_MAX, "canary set larger than a run");

struct canary {
	const char *name;
	enum ipc_status want;   /* IPC_INFECTED or IPC_CLEAN */
	size_t (*build)(unsigned char *out, size_t cap);
};

static size_t put(unsigned char *out, size_t cap, size_t at, const void *p, size_t n)
{
	if (at + n > cap)
		return cap + 1;  /* never: the set is small; checked by the callers */
	memcpy(out + at, p, n);
	return at + n;
}

static size_t eicar(unsigned char *out, size_t cap)
{
	size_t n = put(out, cap, 0, EICAR_A, sizeof(EICAR_A) - 1);

	return put(out, cap, n, EICAR_B, sizeof(EICAR_B) - 1);
}

static const char clean_text[] =
    "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: lunch\r\n"
    "Message-ID: <canary@avwarden>\r\n\r\nSee you at noon.\r\n";

static size_t clean_mail(unsigned char *out, size_t cap)
{
	return put(out, cap, 0, clean_text, sizeof(clean_text) - 1);
}

/* CRC-32 (IEEE), bit by bit: a few hundred bytes, once per reload. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* A zip of one stored member (APPNOTE: local header, data, central
 * directory, end record). */
static size_t zip_of(unsigned char *out, size_t cap, const char *name, const unsigned char *data, size_t len)
{
	unsigned char h[46];
	size_t nl = strlen(name), at = 0, cd;
	uint32_t crc = crc32(data, len);

	memset(h, 0, sizeof(h));
	le32(h, 0x04034b50);
	le16(h + 4, 10);
	le32(h + 14, crc);
	le32(h + 18, (uint32_t)len);
	le32(h + 22, (uint32_t)len);
	le16(h + 26, (unsigned)nl);
	at = put(out, cap, at, h, 30);
	at = put(out, cap, at, name, nl);
	at = put(out, cap, at, data, len);
	cd = at;
	memset(h, 0, sizeof(h));
	le32(h, 0x02014b50);
	le16(h + 4, 20);
	le16(h + 6, 10);
	le32(h + 16, crc);
	le32(h + 20, (uint32_t)len);
	le32(h + 24, (uint32_t)len);
	le16(h + 28, (unsigned)nl);
	at = put(out, cap, at, h, 46);
	at = put(out, cap, at, name, nl);
	memset(h, 0, sizeof(h));
	le32(h, 0x06054b50);
	le16(h + 8, 1);
	le16(h + 10, 1);
	le32(h + 12, (uint32_t)(at - cd));
	le32(h + 16, (uint32_t)cd);
	return put(out, cap, at, h, 22);
}

static size_t eicar_zip(unsigned char *out, size_t cap)
{
	unsigned char e[128];
	size_t n = eicar(e, sizeof(e));

	return zip_of(out, cap, "eicar.com", e, n);
}

static size_t base64(unsigned char *out, size_t cap, size_t at, const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=', i + 2 < n ? t[v & 63] : '=' };
		at = put(out, cap, at, q, 4);
		if ((i / 3 + 1) % 19 == 0)
			at = put(out, cap, at, "\r\n", 2);
	}
	return put(out, cap, at, "\r\n", 2);
}

/* A mail with one base64 attachment. */
static size_t mail_with(unsigned char *out, size_t cap, const char *file, const unsigned char *data, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	    "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"avw-canary\"\r\n\r\n--avw-canary\r\n"
	    "Content-Type: text/plain\r\n\r\nAttached.\r\n--avw-canary\r\n"
	    "Content-Type: application/octet-stream; name=\"%s\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
	    file, file);
	size_t at = put(out, cap, 0, head, (size_t)n);

	at = base64(out, cap, at, data, len);
	return put(out, cap, at, "--avw-canary--\r\n", 16);
}

static size_t eicar_attachment(unsigned char *out, size_t cap)
{
	unsigned char e[128];
	size_t n = eicar(e, sizeof(e));

	return mail_with(out, cap, "eicar.com", e, n);
}

static size_t clean_zip_attachment(unsigned char *out, size_t cap)
{
	unsigned char z[1024];
	size_t n = zip_of(z, sizeof(z), "notes.txt", (const unsigned char *)clean_text, sizeof(clean_text) - 1);

	return mail_with(out, cap, "notes.zip", z, n);
}

static const struct canary set[] = {
	{ "eicar.com", IPC_INFECTED, eicar },
	{ "clean.eml", IPC_CLEAN, clean_mail },
	{ "eicar.zip", IPC_INFECTED, eicar_zip },
	{ "eicar-attachment.eml", IPC_INFECTED, eicar_attachment },
	{ "clean-zip-attachment.eml", IPC_CLEAN, clean_zip_attachment },
};
#define NSET (sizeof(set) / sizeof(set[0]))

unsigned sup_canary_count(void)
{
	return NSET;
}

const char *sup_canary_name(unsigned k)
{
	return k < NSET ? set[k].name : "?";
}

int sup_canary_fill(unsigned k, struct sup_job *job)
{
	size_t n;
	int rc;

	if (k >= NSET)
		return -EINVAL;
	if ((rc = ipc_gather_get(&job->buf, CANARY_MAX)) < 0)
		return rc;
	n = set[k].build(job->buf.base, CANARY_MAX);
	if (n > CANARY_MAX) {
		ipc_gather_put(&job->buf);
		return -EOVERFLOW;
	}
	job->len = n;
	return 0;
}

int sup_canary_check(unsigned k, const struct sup_verdict *v, char *why, size_t len)
{
	/*
	 * UNSCANNABLE is the operator's limits speaking (max_file_count = 1
	 * makes any mail one), not the database: accepted. What refuses a
	 * database is a crash, a hang or an engine error (ERROR), a miss, or a
	 * false positive on clean mail.
	 */
	if (v->status == set[k].want || v->status == IPC_UNSCANNABLE)
		return 0;
	if (v->status == IPC_ERROR)
		snprintf(why, len, "%s", v->reason);
	else
		snprintf(why, len, "answered %s%s%s, expected %s", ipc_status_name(v->status),
		    v->name[0] ? " " : "", v->name, ipc_status_name(set[k].want));
	return -1;
}

/* ------------------------------------------------------------- a run */

/* Decide as soon as the set's order allows: every canary before the first
 * failure answered, or all of them passed. */
static void decide(struct sup_canary_run *run)
{
	for (unsigned k = 0; k < NSET; k++) {
		if (k == run->failed_k) {
			run->over = 1;
			run->finished(run->owner, 0, run->failed_why);
			return;
		}
		if (!run->seen[k])
			return;
	}
	run->over = 1;
	run->finished(run->owner, 1, NULL);
}

static void job_done(struct sup_job *job, const struct sup_verdict *v)
{
	struct sup_canary_run *run = job->ctx;
	char why[256];
	unsigned k = (unsigned)job->tag;

	run->answered++;
	if (run->over)
		return;
	run->seen[k] = 1;
	if (sup_canary_check(k, v, why, sizeof(why)) < 0 && k < run->failed_k) {
		run->failed_k = k;
		snprintf(run->failed_why, sizeof(run->failed_why), "canary %s: %s", sup_canary_name(k), why);
	}
	decide(run);
}

void sup_canary_start(struct sup_canary_run *run, void *owner, void (*finished)(void *, int, const char *))
{
	memset(run, 0, sizeof(*run));
	run->owner = owner;
	run->finished = finished;
	run->failed_k = SUP_CANARY_MAX;
}

struct sup_job *sup_canary_next(struct sup_canary_run *run)
{
	struct sup_job *job;

	if (run->over || run->next >= NSET)
		return NULL;
	job = &run->jobs[run->next];
	memset(job, 0, sizeof(*job));
	if (sup_canary_fill(run->next, job) < 0) {
		run->over = 1;
		run->finished(run->owner, 0, "canary: out of memory");
		return NULL;
	}
	job->tag = run->next++;
	job->id = 0;
	job->internal = 1;
	job->done = job_done;
	job->ctx = run;
	job->t_submit = plat_now_ns();
	return job;
}

void sup_canary_forget(struct sup_canary_run *run)
{
	for (unsigned i = 0; i < run->next; i++)
		if (run->jobs[i].where == SUP_JOB_ANSWERED)
			(void)sup_queue_remove(&run->jobs[i]);
	run->over = 1;
}
