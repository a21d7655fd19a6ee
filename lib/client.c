/* client.c - shared by aggpub, aggstat and aggevents; see client.h. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "http.h"

/* The URL given: the flag, else AGGREGATOR_URL, else the default. */
static const char *
given_url(const char *flag)
{
	const char *v;

	if (flag && *flag)
		return flag;
	if ((v = getenv("AGGREGATOR_URL")) && *v)
		return v;
	return CLIENT_DEFAULT_URL;
}

/* Paths of aggd that a URL given to any tool may end in. */
static const char *const known_paths[] = {
	"/publish", "/events", "/stats", "/topics", "/healthz", "/metrics",
};

/* Length of url without trailing slashes. */
static size_t
trim_slashes(const char *url, size_t len)
{
	while (len > 0 && url[len - 1] == '/')
		len--;
	return len;
}

int
client_base_url(const char *url, char *out, size_t outsz)
{
	size_t len = trim_slashes(url, strlen(url)), i, n;

	for (i = 0; i < sizeof(known_paths) / sizeof(known_paths[0]); i++) {
		n = strlen(known_paths[i]);
		if (len >= n && memcmp(url + len - n, known_paths[i], n) == 0) {
			len = trim_slashes(url, len - n);
			break;
		}
	}
	if (len + 1 > outsz)
		return -1;
	memcpy(out, url, len);
	out[len] = '\0';
	return 0;
}

int
client_url(const char *flag, const char *path, char *out, size_t outsz)
{
	size_t len;

	if (client_base_url(given_url(flag), out, outsz) == -1 ||
	    (len = strlen(out)) + strlen(path) + 1 > outsz)
		return -1;
	memcpy(out + len, path, strlen(path) + 1);
	return 0;
}

const char *
client_token(const char *flag)
{
	const char *v = flag ? flag : getenv("AGG_TOKEN");

	return v && *v ? v : NULL;
}

/* Appends the header "prefix value" to h, whatever its length; NULL
   (and h freed) on failure. */
static struct curl_slist *
append_header(struct curl_slist *h, const char *prefix, const char *value)
{
	struct curl_slist *t = NULL;
	struct buf line;

	buf_init(&line);
	if (buf_puts(&line, prefix) == 0 && buf_puts(&line, value) == 0 &&
	    buf_cstr(&line) == 0)
		t = curl_slist_append(h, line.data);	/* copies the line */
	buf_free(&line);
	if (t == NULL)
		curl_slist_free_all(h);
	return t;
}

struct curl_slist *
client_headers(const char *token, const char *ctype)
{
	struct curl_slist *h;

	if ((h = curl_slist_append(NULL, "Expect:")) == NULL)
		return NULL;
	if (token && (h = append_header(h, "Authorization: Bearer ", token)) ==
	    NULL)
		return NULL;
	if (ctype && (h = append_header(h, "Content-Type: ", ctype)) == NULL)
		return NULL;
	return h;
}

void
client_failure_reason(CURL *c, CURLcode rc, const char *cerr, char *out,
    size_t outsz)
{
	long oserr = 0;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT && oserr != 0) {
		snprintf(out, outsz, "%s", strerror((int)oserr));
		if (out[0] >= 'A' && out[0] <= 'Z')
			out[0] = (char)(out[0] - 'A' + 'a');
	} else
		snprintf(out, outsz, "%s", *cerr ? cerr : curl_easy_strerror(rc));
}

int
client_curl_permanent(CURLcode rc)
{
	return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

long
client_get(CURL *c, const char *url, const char *token, long timeout,
    struct buf *out, char *err, size_t errsz)
{
	struct curl_slist *h = client_headers(token, NULL);
	char cerr[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURLcode rc;

	out->len = 0;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if ((rc = curl_easy_perform(c)) != CURLE_OK)
		client_failure_reason(c, rc, cerr, err, errsz);
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

int
client_status_transient(long status)
{
	return status >= 500 || status == 408 || status == 429;
}

void
client_error_message(const struct buf *body, long status, char *out,
    size_t outsz)
{
	struct json_object *o = NULL, *e;
	struct json_tokener *tok = json_tokener_new();

	if (tok && body->len)
		o = json_tokener_parse_ex(tok, body->data, (int)body->len);
	if (o && json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		snprintf(out, outsz, "%ld %s", status, json_object_get_string(e));
	else
		snprintf(out, outsz, "%ld %s", status, http_reason((int)status));
	for (; *out; out++)	/* a diagnostic is one line */
		if ((unsigned char)*out < 0x20)
			*out = ' ';
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}
