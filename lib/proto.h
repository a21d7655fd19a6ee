/*
 * proto.h - figures of aggd's HTTP API that its clients rely on too, in
 * one place (aggd(8) states them).
 */
#ifndef AGG_PROTO_H
#define AGG_PROTO_H

#define PROTO_PAGE_DEFAULT	1000		/* events a page holds */
#define PROTO_PAGE_MAX		10000		/* limit= at most */
#define PROTO_PAGE_BYTES	(4 << 20)	/* a page ends past this */
#define PROTO_WAIT_MAX		60		/* wait= at most, seconds */
#define PROTO_STATS_TOPICS	1000		/* topics /stats lists */
#define PROTO_TOPICS_DEFAULT	1000		/* names a /topics page holds */
#define PROTO_TOPICS_MAX	10000		/* its limit= at most */

#endif
