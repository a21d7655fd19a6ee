/* rowsum.c - row checksums; see rowsum.h. */
#include <string.h>

#include "rowsum.h"
#include "siphash.h"

static const struct siphash_key sum_key = {
	0x6167672d726f7773ULL, 0x756d2d7631000000ULL	/* "agg-rowsum-v1" */
};

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The fields one by one: no copy of a payload of megabytes. */
int64_t
rowsum_event(int64_t seq, int64_t topic_id, uint64_t fp, int64_t received_ms,
    const struct event_fields *f)
{
	unsigned char b[64];

	put64(b, (uint64_t)seq);
	put64(b + 8, (uint64_t)topic_id);
	put64(b + 16, fp);
	put64(b + 24, (uint64_t)received_ms);
	put64(b + 32, siphash(&sum_key, f->event_id, f->event_id_len));
	put64(b + 40, siphash(&sum_key, f->timestamp, f->timestamp_len));
	put64(b + 48, siphash(&sum_key, f->source, f->source_len));
	put64(b + 56, siphash(&sum_key, f->payload, f->payload_len));
	return (int64_t)siphash(&sum_key, b, sizeof(b));
}

int64_t
rowsum_bytes(uint64_t tag, int64_t id, const void *p, size_t len)
{
	unsigned char b[24];

	put64(b, tag);
	put64(b + 8, (uint64_t)id);
	put64(b + 16, siphash(&sum_key, p, len));
	return (int64_t)siphash(&sum_key, b, sizeof(b));
}
