/*
 * proto: the control socket's wire format (docs/protocol.md) — versioned,
 * newline-delimited JSON.  One request per line from the client, one
 * response line back (or, for a streaming request, a response line that
 * opens the stream).  Pure functions: decode a request line into a struct
 * with every field validated, encode a response, and the client's side of
 * both.  Nothing here touches a socket.
 *
 * Byte strings that need not be UTF-8 (config file content, the command's
 * human output, which may contain a guest's console bytes) travel as a
 * JSON string when they are valid UTF-8 without NUL bytes, else base64 in
 * a sibling key with the suffix "_b64"; proto_put_bytes/proto_get_bytes do
 * both sides.
 */
#ifndef CV_PROTO_H
#define CV_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_LINE_MAX (8u << 20)	/* a request line, '\n' included */
#define PROTO_ARGC_MAX 256
#define PROTO_ARG_MAX 4096		/* bytes per argv word */
#define PROTO_FILES_MAX 64
#define PROTO_FILE_MAX (1u << 20)	/* config content (the loader's cap) */
#define PROTO_ID_MAX 9007199254740991LL	/* 2^53 - 1: exact in any JSON */

/* Machine-readable error codes of a response's "error" object. */
#define PROTO_E_JSON "bad_json"		/* not one JSON object */
#define PROTO_E_VERSION "bad_version"	/* "v" missing or not supported */
#define PROTO_E_REQUEST "bad_request"	/* unknown key, wrong type, limits */
#define PROTO_E_TOO_LARGE "too_large"	/* line longer than PROTO_LINE_MAX */
#define PROTO_E_FAILED "failed"		/* the command ran and failed */
#define PROTO_E_USAGE "usage"		/* the command's syntax was wrong */
#define PROTO_E_DENIED "denied"		/* peer credentials refused */
#define PROTO_E_BUSY "busy"		/* the daemon is shutting down */

struct proto_error {
	char code[32];
	char message[256];
};

/* A config file named on a `vm create` line, as the client read it. */
struct proto_file {
	char *path;		/* as the user wrote it (argv word) */
	char *dir;		/* absolute directory it is in (image paths) */
	char *data;		/* content (NUL-terminated), NULL when error */
	size_t len;
	int error;		/* errno the client got reading it, else 0 */
};

struct proto_request {
	int64_t id;		/* echoed in the response; 0 when absent */
	size_t argc;
	char **argv;		/* argv[argc] == NULL */
	bool color;		/* ANSI colour in "text" */
	struct proto_file *files;
	size_t nfiles;
};

/*
 * Decode one request line (without or with its '\n').  0 on success; else
 * -EINVAL (-E2BIG for a line over the limit) with err filled and *id_out
 * set to the request's "id" when it could be read (else 0), so the error
 * response can carry it.  req is zeroed first; free it with
 * proto_request_free (also after a failure).
 */
int proto_decode_request(const char *line, size_t len,
			 struct proto_request *req, int64_t *id_out,
			 struct proto_error *err);
void proto_request_free(struct proto_request *req);
/* The file of a request by the path the user wrote; NULL when absent. */
const struct proto_file *proto_request_file(const struct proto_request *req,
					    const char *path);

/* Client side: a request line ('\n'-terminated; free() it). */
char *proto_encode_request(const struct proto_request *req);

struct proto_response {
	int64_t id;
	bool ok;		/* status == 0 and no error */
	int status;		/* the command's exit status (0, 1, 2) */
	json_t *result;		/* structured result, may be NULL (borrowed
				   when encoding, owned after decoding) */
	const char *text;	/* human stdout (may be NULL) */
	size_t text_len;
	const char *errtext;	/* human stderr (may be NULL) */
	size_t errtext_len;
	const struct proto_error *error;	/* NULL when none */
	const char *stream;	/* "console" | "events": a stream follows */
	int exit;		/* -1, or the status `exit` asked for */
	json_t *order;		/* [[1|2, bytes], ...]: how text and stderr
				   interleaved (NULL: text, then stderr) */
};

/* A response line ('\n'-terminated; free() it), NULL on ENOMEM. */
char *proto_encode_response(const struct proto_response *r);
/* The error response for a request that could not be run. */
char *proto_encode_error(int64_t id, int status, const char *code,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Client side: decoded response; free with proto_decoded_free. */
struct proto_decoded {
	int64_t id;
	bool ok;
	int status;
	json_t *result;
	char *text, *errtext;
	size_t text_len, errtext_len;
	bool has_error;
	struct proto_error error;
	char stream[16];
	int exit;
	/* runs of (stream 1|2, bytes) covering text and stderr exactly */
	struct proto_run { int stream; size_t len; } *order;
	size_t norder;
};
int proto_decode_response(const char *line, size_t len,
			  struct proto_decoded *out, struct proto_error *err);
void proto_decoded_free(struct proto_decoded *d);

/* ---- byte strings ------------------------------------------------------ */

/* Set obj[key] = the bytes as a string, or obj[key_b64] = base64. */
int proto_put_bytes(json_t *obj, const char *key, const void *buf,
		    size_t len);
/*
 * Read obj[key] or obj[key + "_b64"] (at most one may be present) into a
 * malloc'ed NUL-terminated buffer.  1 = found, 0 = neither key, -EINVAL =
 * wrong type / bad base64 / both keys / longer than max.
 */
int proto_get_bytes(json_t *obj, const char *key, size_t max, char **out,
		    size_t *len);

size_t proto_b64_encoded_len(size_t n);
void proto_b64_encode(const void *in, size_t n, char *out);	/* + NUL */
/* -EINVAL on a bad character, length or padding. */
int proto_b64_decode(const char *in, size_t n, unsigned char *out,
		     size_t *out_len);

/* True when buf[0..len) is valid UTF-8 with no NUL byte. */
bool proto_utf8_ok(const void *buf, size_t len);
/* Replace every byte that is not part of valid UTF-8 with '?'. */
void proto_utf8_fix(char *s);

#endif
