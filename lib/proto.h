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

#endif
