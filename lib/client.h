/*
 * client.h - what the command-line tools share: settings from flags and
 * the environment, and plain HTTP requests with libcurl.
 */
#ifndef AGG_CLIENT_H
#define AGG_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"

#define CLIENT_DEFAULT_URL	"http://localhost:8080/publish"

/*
 * The service's base URL: url without trailing slashes and without a path
 * of aggd's it ends in ("/publish", "/stats", ...), so that every tool
 * takes the base or any of those.  -1 when it does not fit in out.
 */
int		 client_base_url(const char *url, char *out, size_t outsz);
/*
 * The base URL of the flag (else AGGREGATOR_URL, else the default) with
 * path ("/publish", or "" for the base) appended; -1 when it does not fit.
 */
int		 client_url(const char *flag, const char *path, char *out,
		    size_t outsz);
#define CLIENT_URL_MAX	4096
/* The token: the flag, else AGG_TOKEN; NULL when unset or empty. */
const char	*client_token(const char *flag);

/*
 * Header list with Authorization (when token) and Content-Type (when
 * ctype); also turns off "Expect: 100-continue" round trips.  NULL when
 * memory runs out.
 */
struct curl_slist *client_headers(const char *token, const char *ctype);

/*
 * Why a transfer failed, in one line: the system's words when it could not
 * connect ("connection refused"), else libcurl's (cerr, or rc's).
 */
void		 client_failure_reason(CURL *, CURLcode rc, const char *cerr,
		    char *out, size_t outsz);

/* 1 when a failed transfer cannot succeed on a retry: the URL is wrong. */
int		 client_curl_permanent(CURLcode);
/* 1 when an HTTP answer may differ on a retry: 408, 429 or 5xx. */
int		 client_status_transient(long status);

/*
 * GET url (timeout in seconds, 0 none) into out.  Returns the HTTP status,
 * or -1 with a one-line reason in err ("connection refused").
 */
long		 client_get(CURL *, const char *url, const char *token,
		    long timeout, struct buf *out, char *err, size_t errsz);

/* The "error" member of a JSON error body, or the status line's words. */
void		 client_error_message(const struct buf *body, long status,
		    char *out, size_t outsz);

#endif
