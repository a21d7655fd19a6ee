/*
 * table.c - aggevents -H; see table.h.
 *
 * Widths count code points, not display columns: wide characters (CJK,
 * emoji) may push a line past the terminal (aggevents(1) CAVEATS).
 */
#include <limits.h>
#include <stdio.h>

#include "table.h"

/* Appends s[0..len) cut or padded to width columns (code points). */
static int
put_cell(struct buf *b, const char *s, size_t len, int width, int pad)
{
	size_t i, cut = len;
	int cols = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && cols++ == width - 1)
			cut = i;
	if (cols > width) {
		if (buf_append(b, s, cut) == -1 || buf_puts(b, "\xe2\x80\xa6") == -1)
			return -1;
		cols = width;
	} else if (buf_append(b, s, len) == -1)
		return -1;
	for (; pad && cols < width; cols++)
		if (buf_putc(b, ' ') == -1)
			return -1;
	return pad ? buf_putc(b, ' ') : 0;
}

/* Code points in s[0..len). */
static int
columns(const char *s, size_t len)
{
	int n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

#define COL_PAYLOAD_MIN	10
#define COL_TEXT_MIN	6	/* topic, id, source: at least this, if cut */

/* The header line, cut like the values. */
int
table_header(struct buf *b, const struct table *c)
{
	return buf_printf(b, "%*s ", c->seq, "SEQ") == -1 ||
	    put_cell(b, "TIME", 4, c->time, 1) == -1 ||
	    put_cell(b, "TOPIC", 5, c->topic, 1) == -1 ||
	    put_cell(b, "EVENT_ID", 8, c->id, 1) == -1 ||
	    put_cell(b, "SOURCE", 6, c->source, 1) == -1 ||
	    put_cell(b, "PAYLOAD", 7, c->payload, 0) == -1 ||
	    buf_putc(b, '\n') == -1 ? -1 : 0;
}

/* A column at most max, where the header is at least as wide. */
static void
widen(int *col, int want, int header)
{
	if (want < header)
		want = header;
	if (want > *col)
		*col = want;
}

/* The widest of cols whose width is above its min, or NULL. */
static int *
widest(int **cols, const int *min, int n)
{
	int *w = NULL, i;

	for (i = 0; i < n; i++)
		if (*cols[i] > min[i] && (w == NULL || *cols[i] > *w))
			w = cols[i];
	return w;
}

/*
 * Sizes the columns from the first page's events and the terminal: each
 * as wide as its widest value, then, while the line is wider than the
 * terminal, the widest column gives way: first payload, event_id, topic
 * and source down to a few characters, then, on a very narrow terminal,
 * the time and every one of them down to one.  The seq is never cut.
 */
void
table_fit(struct table *c, int width)
{
	int *cols[5] = { &c->payload, &c->id, &c->topic, &c->source, &c->time };
	const int first[5] = { COL_PAYLOAD_MIN, COL_TEXT_MIN, COL_TEXT_MIN,
	    COL_TEXT_MIN, INT_MAX }, last[5] = { 1, 1, 1, 1, 1 };
	int total, *w;

	for (;;) {
		total = c->seq + c->time + c->topic + c->id + c->source +
		    c->payload + 5;
		if (total <= width || ((w = widest(cols, first, 5)) == NULL &&
		    (w = widest(cols, last, 5)) == NULL))
			break;
		--*w;
	}
	/* The payload takes what is left of the line. */
	if (total < width)
		c->payload += width - total;
}

/* One table row. */
int
table_row(struct buf *b, const struct table *c, const struct event_fields *f,
    int64_t seq)
{
	return buf_printf(b, "%*lld ", c->seq, (long long)seq) == -1 ||
	    put_cell(b, f->timestamp, f->timestamp_len, c->time, 1) == -1 ||
	    put_cell(b, f->topic, f->topic_len, c->topic, 1) == -1 ||
	    put_cell(b, f->event_id, f->event_id_len, c->id, 1) == -1 ||
	    put_cell(b, f->source, f->source_len, c->source, 1) == -1 ||
	    put_cell(b, f->payload, f->payload_len, c->payload, 0) == -1 ||
	    buf_putc(b, '\n') == -1 ? -1 : 0;
}

/* The first page widens the table's columns to its values. */
void
table_measure(struct table *c, const struct event_fields *f, int64_t seq)
{
	char s[24];

	widen(&c->seq, snprintf(s, sizeof(s), "%lld", (long long)seq), 3);
	widen(&c->time, columns(f->timestamp, f->timestamp_len), 4);
	widen(&c->topic, columns(f->topic, f->topic_len), 5);
	widen(&c->id, columns(f->event_id, f->event_id_len), 8);
	widen(&c->source, columns(f->source, f->source_len), 6);
	widen(&c->payload, columns(f->payload, f->payload_len), 7);
}
