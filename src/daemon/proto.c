/*
 * proto: encode and decode the control protocol's lines (see proto.h and
 * docs/protocol.md).  Every check a daemon needs before it runs anything
 * happens in proto_decode_request; the rest is plain JSON building.
 */
#include "proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct proto_error *err, const char *code, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static int fail(struct proto_error *err, const char *code, const char *fmt,
		...)
{
	if (err) {
		snprintf(err->code, sizeof(err->code), "%s", code);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- UTF-8 and base64 -------------------------------------------------- */

bool proto_utf8_ok(const void *buf, size_t len)
{
	const unsigned char *s = buf;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

void proto_utf8_fix(char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xf0)
			n = 4;
		else if (c >= 0xe0)
			n = 3;
		else if (c >= 0xc0)
			n = 2;
		if (n > len - i || !proto_utf8_ok(s + i, n)) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t proto_b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void proto_b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *s = in;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int proto_b64_decode(const char *in, size_t n, unsigned char *out,
		     size_t *out_len)
{
	size_t o = 0;
	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)	/* data after '=' */
				return -EINVAL;
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* canonical form: the bits under the padding are zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -EINVAL;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*out_len = o;
	return 0;
}

int proto_put_bytes(json_t *obj, const char *key, const void *buf,
		    size_t len)
{
	if (proto_utf8_ok(buf, len))
		return json_object_set_new(obj, key, json_stringn(buf, len))
		       ? -ENOMEM : 0;
	char *enc = malloc(proto_b64_encoded_len(len) + 1);
	char k[64];
	if (!enc)
		return -ENOMEM;
	proto_b64_encode(buf, len, enc);
	snprintf(k, sizeof(k), "%s_b64", key);
	int rc = json_object_set_new(obj, k, json_string(enc)) ? -ENOMEM : 0;
	free(enc);
	return rc;
}

int proto_get_bytes(json_t *obj, const char *key, size_t max, char **out,
		    size_t *len)
{
	char k[64];
	snprintf(k, sizeof(k), "%s_b64", key);
	json_t *plain = json_object_get(obj, key);
	json_t *enc = json_object_get(obj, k);
	*out = NULL;
	*len = 0;
	if (!plain && !enc)
		return 0;
	if ((plain && enc) || !json_is_string(plain ? plain : enc))
		return -EINVAL;
	const char *s = json_string_value(plain ? plain : enc);
	size_t n = json_string_length(plain ? plain : enc);
	if (plain) {
		if (n > max || memchr(s, 0, n))
			return -EINVAL;
		*out = malloc(n + 1);
		if (!*out)
			return -ENOMEM;
		memcpy(*out, s, n);
		(*out)[n] = '\0';
		*len = n;
		return 1;
	}
	if (n / 4 * 3 > max + 2)
		return -EINVAL;
	unsigned char *buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	size_t got;
	if (proto_b64_decode(s, n, buf, &got) || got > max) {
		free(buf);
		return -EINVAL;
	}
	buf[got] = '\0';
	*out = (char *)buf;
	*len = got;
	return 1;
}

/* ---- requests ---------------------------------------------------------- */

void proto_request_free(struct proto_request *req)
{
	for (size_t i = 0; req->argv && i < req->argc; i++)
		free(req->argv[i]);
	free(req->argv);
	for (size_t i = 0; req->files && i < req->nfiles; i++) {
		free(req->files[i].path);
		free(req->files[i].dir);
		free(req->files[i].data);
	}
	free(req->files);
	memset(req, 0, sizeof(*req));
}

const struct proto_file *proto_request_file(const struct proto_request *req,
					    const char *path)
{
	for (size_t i = 0; i < req->nfiles; i++)
		if (!strcmp(req->files[i].path, path))
			return &req->files[i];
	return NULL;
}

/* A string without NUL bytes, at most max bytes; malloc'ed copy. */
static int get_string(json_t *v, size_t max, char **out)
{
	if (!json_is_string(v))
		return -EINVAL;
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n > max || memchr(s, 0, n))
		return -E2BIG;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int only_keys(json_t *obj, const char *const *keys, const char *where,
		     struct proto_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		bool known = false;
		for (size_t i = 0; keys[i] && !known; i++)
			known = !strcmp(k, keys[i]);
		if (!known)
			return fail(err, PROTO_E_REQUEST, "%s: unknown key \"%.64s\"",
				    where, k);
	}
	return 0;
}

static int decode_argv(json_t *a, struct proto_request *req,
		       struct proto_error *err)
{
	if (!json_is_array(a))
		return fail(err, PROTO_E_REQUEST,
			    "\"argv\": expected an array of strings");
	size_t n = json_array_size(a);
	if (n == 0)
		return fail(err, PROTO_E_REQUEST, "\"argv\": expected at least "
			    "one word (the command)");
	if (n > PROTO_ARGC_MAX)
		return fail(err, PROTO_E_REQUEST, "\"argv\": %zu words, at most "
			    "%u allowed", n, PROTO_ARGC_MAX);
	req->argv = calloc(n + 1, sizeof(char *));
	if (!req->argv)
		return fail(err, PROTO_E_REQUEST, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int rc = get_string(json_array_get(a, i), PROTO_ARG_MAX,
				    &req->argv[i]);
		if (rc == -EINVAL)
			return fail(err, PROTO_E_REQUEST, "\"argv\"[%zu]: "
				    "expected a string", i);
		if (rc == -E2BIG)
			return fail(err, PROTO_E_REQUEST, "\"argv\"[%zu]: longer "
				    "than %u bytes or contains NUL", i,
				    PROTO_ARG_MAX);
		if (rc)
			return fail(err, PROTO_E_REQUEST, "out of memory");
		req->argc = i + 1;
	}
	return 0;
}

static int decode_file(json_t *f, size_t i, struct proto_file *out,
		       struct proto_error *err)
{
	static const char *const keys[] = { "path", "dir", "data", "data_b64",
					    "error", NULL };
	char where[48];
	snprintf(where, sizeof(where), "\"files\"[%zu]", i);
	if (!json_is_object(f))
		return fail(err, PROTO_E_REQUEST, "%s: expected an object",
			    where);
	if (only_keys(f, keys, where, err))
		return -EINVAL;
	if (get_string(json_object_get(f, "path"), PROTO_ARG_MAX, &out->path))
		return fail(err, PROTO_E_REQUEST, "%s: \"path\": expected a "
			    "string of at most %u bytes", where, PROTO_ARG_MAX);
	json_t *e = json_object_get(f, "error");
	int rc = proto_get_bytes(f, "data", PROTO_FILE_MAX, &out->data,
				 &out->len);
	if (rc < 0)
		return fail(err, PROTO_E_REQUEST, "%s: \"data\": expected a "
			    "string (or \"data_b64\": base64) of at most %u "
			    "bytes, not both", where, PROTO_FILE_MAX);
	if (e) {
		json_int_t n = json_is_integer(e) ? json_integer_value(e) : 0;
		if (n < 1 || n > 4095 || rc == 1)
			return fail(err, PROTO_E_REQUEST, "%s: \"error\": "
				    "expected an errno (1..4095) instead of "
				    "data", where);
		out->error = (int)n;
		return 0;
	}
	if (rc == 0)
		return fail(err, PROTO_E_REQUEST, "%s: expected \"data\", "
			    "\"data_b64\" or \"error\"", where);
	if (get_string(json_object_get(f, "dir"), PROTO_ARG_MAX, &out->dir) ||
	    out->dir[0] != '/')
		return fail(err, PROTO_E_REQUEST, "%s: \"dir\": expected an "
			    "absolute directory", where);
	return 0;
}

static int decode_files(json_t *a, struct proto_request *req,
			struct proto_error *err)
{
	if (!json_is_array(a))
		return fail(err, PROTO_E_REQUEST,
			    "\"files\": expected an array of objects");
	size_t n = json_array_size(a);
	if (n > PROTO_FILES_MAX)
		return fail(err, PROTO_E_REQUEST, "\"files\": %zu files, at "
			    "most %u allowed", n, PROTO_FILES_MAX);
	req->files = calloc(n ? n : 1, sizeof(*req->files));
	if (!req->files)
		return fail(err, PROTO_E_REQUEST, "out of memory");
	for (size_t i = 0; i < n; i++) {
		req->nfiles = i + 1;
		if (decode_file(json_array_get(a, i), i, &req->files[i], err))
			return -EINVAL;
	}
	return 0;
}

static int decode_object(json_t *root, struct proto_request *req,
			 int64_t *id_out, struct proto_error *err)
{
	static const char *const keys[] = { "v", "id", "argv", "color",
					    "files", NULL };
	json_t *id = json_object_get(root, "id");
	if (id) {
		if (!json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) > PROTO_ID_MAX)
			return fail(err, PROTO_E_REQUEST, "\"id\": expected an "
				    "integer 0..2^53-1");
		req->id = json_integer_value(id);
		*id_out = req->id;
	}
	json_t *v = json_object_get(root, "v");
	if (!v)
		return fail(err, PROTO_E_VERSION, "\"v\": missing (this daemon "
			    "speaks protocol version %d)", PROTO_VERSION);
	if (!json_is_integer(v) || json_integer_value(v) != PROTO_VERSION)
		return fail(err, PROTO_E_VERSION, "\"v\": version not supported "
			    "(this daemon speaks protocol version %d)",
			    PROTO_VERSION);
	if (only_keys(root, keys, "request", err))
		return -EINVAL;
	json_t *argv = json_object_get(root, "argv");
	if (!argv)
		return fail(err, PROTO_E_REQUEST, "\"argv\": missing");
	if (decode_argv(argv, req, err))
		return -EINVAL;
	json_t *color = json_object_get(root, "color");
	if (color && !json_is_boolean(color))
		return fail(err, PROTO_E_REQUEST, "\"color\": expected true or "
			    "false");
	req->color = json_is_true(color);
	json_t *files = json_object_get(root, "files");
	if (files && decode_files(files, req, err))
		return -EINVAL;
	return 0;
}

int proto_decode_request(const char *line, size_t len,
			 struct proto_request *req, int64_t *id_out,
			 struct proto_error *err)
{
	memset(req, 0, sizeof(*req));
	*id_out = 0;
	if (len > PROTO_LINE_MAX) {
		fail(err, PROTO_E_TOO_LARGE, "request line longer than %u bytes",
		     PROTO_LINE_MAX);
		return -E2BIG;
	}
	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len))
		return fail(err, PROTO_E_JSON, "one request per line: a raw "
			    "newline inside the request");
	json_error_t je;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, PROTO_E_JSON, "not valid JSON at byte %d: %s",
			    je.position, je.text);
	int rc;
	if (!json_is_object(root))
		rc = fail(err, PROTO_E_JSON, "expected one JSON object");
	else
		rc = decode_object(root, req, id_out, err);
	json_decref(root);
	return rc;
}

char *proto_encode_request(const struct proto_request *req)
{
	json_t *root = json_pack("{s:i,s:I}", "v", PROTO_VERSION, "id",
				 (json_int_t)req->id);
	json_t *argv = json_array();
	char *line = NULL;
	if (!root || !argv)
		goto out;
	for (size_t i = 0; i < req->argc; i++)
		json_array_append_new(argv, json_string(req->argv[i]));
	json_object_set(root, "argv", argv);
	if (req->color)
		json_object_set_new(root, "color", json_true());
	if (req->nfiles) {
		json_t *files = json_array();
		for (size_t i = 0; files && i < req->nfiles; i++) {
			const struct proto_file *f = &req->files[i];
			json_t *o = json_pack("{s:s}", "path", f->path);
			if (!o)
				continue;
			if (f->error) {
				json_object_set_new(o, "error",
						    json_integer(f->error));
			} else {
				json_object_set_new(o, "dir", json_string(f->dir));
				proto_put_bytes(o, "data", f->data, f->len);
			}
			json_array_append_new(files, o);
		}
		json_object_set_new(root, "files", files);
	}
	char *s = json_dumps(root, JSON_COMPACT);
	if (s) {
		size_t n = strlen(s);
		line = realloc(s, n + 2);
		if (line) {
			line[n] = '\n';
			line[n + 1] = '\0';
		} else {
			free(s);
		}
	}
out:
	json_decref(argv);
	json_decref(root);
	return line;
}

/* ---- responses --------------------------------------------------------- */

static char *dump_line(json_t *root)
{
	char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *proto_encode_response(const struct proto_response *r)
{
	json_t *root = json_pack("{s:i,s:I,s:b,s:i}", "v", PROTO_VERSION,
				 "id", (json_int_t)r->id, "ok", r->ok,
				 "status", r->status);
	if (!root)
		return NULL;
	if (r->result)
		json_object_set(root, "result", r->result);
	if (r->text && r->text_len)
		proto_put_bytes(root, "text", r->text, r->text_len);
	if (r->errtext && r->errtext_len)
		proto_put_bytes(root, "stderr", r->errtext, r->errtext_len);
	if (r->error) {
		char code[sizeof(r->error->code)], msg[sizeof(r->error->message)];
		snprintf(code, sizeof(code), "%s", r->error->code);
		snprintf(msg, sizeof(msg), "%s", r->error->message);
		proto_utf8_fix(code);
		proto_utf8_fix(msg);
		json_object_set_new(root, "error", json_pack("{s:s,s:s}",
				    "code", code, "message", msg));
	}
	if (r->stream)
		json_object_set_new(root, "stream", json_string(r->stream));
	if (r->exit >= 0)
		json_object_set_new(root, "exit", json_integer(r->exit));
	if (r->order)
		json_object_set(root, "order", r->order);
	return dump_line(root);
}

char *proto_encode_error(int64_t id, int status, const char *code,
			 const char *fmt, ...)
{
	struct proto_error e;
	snprintf(e.code, sizeof(e.code), "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	struct proto_response r = { .id = id, .status = status, .error = &e,
				    .exit = -1 };
	return proto_encode_response(&r);
}

void proto_decoded_free(struct proto_decoded *d)
{
	json_decref(d->result);
	free(d->text);
	free(d->errtext);
	free(d->order);
	memset(d, 0, sizeof(*d));
}

/* "order" must cover text and stderr exactly, run by run. */
static int decode_order(json_t *o, struct proto_decoded *d,
			struct proto_error *err)
{
	size_t n = json_is_array(o) ? json_array_size(o) : 0, sum[2] = { 0, 0 };
	if (!n || !(d->order = calloc(n, sizeof(*d->order))))
		return fail(err, PROTO_E_REQUEST, "response: \"order\": "
			    "expected a non-empty array");
	for (size_t i = 0; i < n; i++) {
		json_t *run = json_array_get(o, i);
		json_t *s = json_array_get(run, 0), *l = json_array_get(run, 1);
		if (!json_is_array(run) || json_array_size(run) != 2 ||
		    !json_is_integer(s) || !json_is_integer(l) ||
		    json_integer_value(s) < 1 || json_integer_value(s) > 2 ||
		    json_integer_value(l) < 0)
			return fail(err, PROTO_E_REQUEST, "response: \"order\"[%zu]: "
				    "expected [1 or 2, bytes]", i);
		int w = (int)json_integer_value(s);
		d->order[i].stream = w;
		d->order[i].len = (size_t)json_integer_value(l);
		sum[w - 1] += d->order[i].len;
		if (sum[w - 1] > (w == 1 ? d->text_len : d->errtext_len))
			return fail(err, PROTO_E_REQUEST, "response: \"order\" "
				    "longer than the text");
	}
	d->norder = n;
	if (sum[0] != d->text_len || sum[1] != d->errtext_len)
		return fail(err, PROTO_E_REQUEST, "response: \"order\" does "
			    "not cover the text");
	return 0;
}

static int decode_response_obj(json_t *root, struct proto_decoded *d,
			       struct proto_error *err)
{
	static const char *const keys[] = { "v", "id", "ok", "status",
		"result", "text", "text_b64", "stderr", "stderr_b64", "error",
		"stream", "exit", "order", NULL };
	json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != PROTO_VERSION)
		return fail(err, PROTO_E_VERSION, "response: \"v\": expected %d",
			    PROTO_VERSION);
	if (only_keys(root, keys, "response", err))
		return -EINVAL;
	json_t *id = json_object_get(root, "id"), *ok = json_object_get(root, "ok");
	json_t *st = json_object_get(root, "status");
	if (!json_is_integer(id) || !json_is_boolean(ok) ||
	    !json_is_integer(st) || json_integer_value(st) < 0 ||
	    json_integer_value(st) > 255)
		return fail(err, PROTO_E_REQUEST, "response: \"id\", \"ok\" "
			    "and \"status\" (0..255) are required");
	d->id = json_integer_value(id);
	d->ok = json_is_true(ok);
	d->status = (int)json_integer_value(st);
	json_t *res = json_object_get(root, "result");
	if (res)
		d->result = json_incref(res);
	if (proto_get_bytes(root, "text", SIZE_MAX / 2, &d->text,
			    &d->text_len) < 0 ||
	    proto_get_bytes(root, "stderr", SIZE_MAX / 2, &d->errtext,
			    &d->errtext_len) < 0)
		return fail(err, PROTO_E_REQUEST, "response: bad \"text\" or "
			    "\"stderr\"");
	json_t *e = json_object_get(root, "error");
	if (e) {
		json_t *c = json_object_get(e, "code"), *m = json_object_get(e, "message");
		if (!json_is_object(e) || !json_is_string(c) ||
		    !json_is_string(m))
			return fail(err, PROTO_E_REQUEST, "response: \"error\": "
				    "expected {\"code\",\"message\"}");
		d->has_error = true;
		snprintf(d->error.code, sizeof(d->error.code), "%s",
			 json_string_value(c));
		snprintf(d->error.message, sizeof(d->error.message), "%s",
			 json_string_value(m));
	}
	json_t *s = json_object_get(root, "stream");
	if (s) {
		if (!json_is_string(s) || json_string_length(s) >= sizeof(d->stream))
			return fail(err, PROTO_E_REQUEST, "response: \"stream\": "
				    "expected a short string");
		snprintf(d->stream, sizeof(d->stream), "%s", json_string_value(s));
	}
	json_t *x = json_object_get(root, "exit");
	d->exit = -1;
	if (x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    json_integer_value(x) > 255)
			return fail(err, PROTO_E_REQUEST, "response: \"exit\": "
				    "expected 0..255");
		d->exit = (int)json_integer_value(x);
	}
	json_t *o = json_object_get(root, "order");
	return o ? decode_order(o, d, err) : 0;
}

int proto_decode_response(const char *line, size_t len,
			  struct proto_decoded *out, struct proto_error *err)
{
	memset(out, 0, sizeof(*out));
	out->exit = -1;
	if (len && line[len - 1] == '\n')
		len--;
	json_error_t je;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, PROTO_E_JSON, "response is not valid JSON at "
			    "byte %d: %s", je.position, je.text);
	int rc = json_is_object(root) ? decode_response_obj(root, out, err)
				      : fail(err, PROTO_E_JSON,
					     "response: expected an object");
	json_decref(root);
	if (rc)
		proto_decoded_free(out);
	return rc;
}
