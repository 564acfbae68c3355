/* tokenize: command lines -> commands -> words (syntax in tokenize.h). */
#include "tokenize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tok {
	const char *s;
	size_t len, i;
	bool partial;		/* completion: tolerate an open quote */
	char *word;
	size_t wlen, wcap;
	bool in_word;
	struct sh_words cur;
	struct sh_script *out;
	struct cv_err *err;
};

static int put_char(struct tok *t, char c)
{
	if (t->wlen + 1 >= t->wcap) {
		size_t ncap = t->wcap ? t->wcap * 2 : 32;
		char *w = realloc(t->word, ncap);
		if (!w)
			return cv_err_set(t->err, ENOMEM, "out of memory");
		t->word = w;
		t->wcap = ncap;
	}
	t->word[t->wlen++] = c;
	t->in_word = true;
	return 0;
}

static int end_word(struct tok *t)
{
	if (!t->in_word)
		return 0;
	if (t->cur.n >= SH_MAX_WORDS)
		return cv_err_set(t->err, E2BIG,
				  "too many words in one command (at most %d)",
				  SH_MAX_WORDS);
	char **v = realloc(t->cur.v, (t->cur.n + 2) * sizeof(*v));
	if (!v)
		return cv_err_set(t->err, ENOMEM, "out of memory");
	t->cur.v = v;
	char *w = malloc(t->wlen + 1);
	if (!w)
		return cv_err_set(t->err, ENOMEM, "out of memory");
	memcpy(w, t->word ? t->word : "", t->wlen);
	w[t->wlen] = '\0';
	v[t->cur.n++] = w;
	v[t->cur.n] = NULL;
	t->wlen = 0;
	t->in_word = false;
	return 0;
}

static int end_command(struct tok *t)
{
	int rc = end_word(t);
	if (rc || !t->cur.n)
		return rc;
	if (!t->out) {		/* partial mode keeps only the last command */
		sh_words_free(&t->cur);
		return 0;
	}
	struct sh_words *c = realloc(t->out->cmds,
				     (t->out->n + 1) * sizeof(*c));
	if (!c)
		return cv_err_set(t->err, ENOMEM, "out of memory");
	t->out->cmds = c;
	c[t->out->n++] = t->cur;
	t->cur.v = NULL;
	t->cur.n = 0;
	return 0;
}

/*
 * At the closing quote of a quote opened at offset open (kind: "single",
 * "double"): step over it; at the end of the text, an error unless the
 * text may be partial (completion).
 */
static int end_quote(struct tok *t, size_t open, const char *kind)
{
	if (t->i >= t->len) {
		if (t->partial)
			return 0;
		return cv_err_set(t->err, EINVAL, "unterminated %s quote "
				  "(opened at column %zu)", kind, open + 1);
	}
	t->i++;
	return 0;
}

static int single_quoted(struct tok *t)
{
	size_t open = t->i++;
	t->in_word = true;
	while (t->i < t->len && t->s[t->i] != '\'') {
		int rc = put_char(t, t->s[t->i++]);
		if (rc)
			return rc;
	}
	return end_quote(t, open, "single");
}

static char dq_escape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case '\\':
	case '"':
		return c;
	default:
		return 0;
	}
}

static int double_quoted(struct tok *t)
{
	size_t open = t->i++;
	t->in_word = true;
	while (t->i < t->len && t->s[t->i] != '"') {
		char c = t->s[t->i++];
		int rc = 0;
		if (c == '\\' && t->i < t->len) {
			char n = t->s[t->i++];
			char e = dq_escape(n);
			if (n == '\n')
				continue;	/* line continuation */
			if (e)
				rc = put_char(t, e);
			else if (!(rc = put_char(t, '\\')))
				rc = put_char(t, n);
		} else {
			rc = put_char(t, c);
		}
		if (rc)
			return rc;
	}
	return end_quote(t, open, "double");
}

static int backslash(struct tok *t)
{
	t->i++;
	if (t->i >= t->len) {
		if (t->partial)
			return 0;
		return cv_err_set(t->err, EINVAL,
				  "a backslash ends the line: nothing to escape");
	}
	char c = t->s[t->i++];
	if (c == '\n')
		return 0;		/* line continuation */
	return put_char(t, c);
}

static int step(struct tok *t)
{
	char c = t->s[t->i];
	switch (c) {
	case '\0':
		return cv_err_set(t->err, EINVAL,
				  "a NUL byte at column %zu", t->i + 1);
	case ' ':
	case '\t':
	case '\r':
	case '\v':
	case '\f':
		t->i++;
		return end_word(t);
	case '\n':
	case ';':
		t->i++;
		return end_command(t);
	case '\'':
		return single_quoted(t);
	case '"':
		return double_quoted(t);
	case '\\':
		return backslash(t);
	case '#':
		if (!t->in_word) {
			while (t->i < t->len && t->s[t->i] != '\n')
				t->i++;
			return 0;
		}
		break;
	default:
		break;
	}
	t->i++;
	return put_char(t, c);
}

static int run(struct tok *t)
{
	if (t->len > SH_MAX_TEXT)
		return cv_err_set(t->err, E2BIG,
				  "the command text is too long (at most %u "
				  "bytes)", SH_MAX_TEXT);
	while (t->i < t->len) {
		int rc = step(t);
		if (rc)
			return rc;
	}
	return 0;
}

void sh_words_free(struct sh_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

void sh_script_free(struct sh_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		sh_words_free(&s->cmds[i]);
	free(s->cmds);
	s->cmds = NULL;
	s->n = 0;
}

int sh_tokenize(const char *text, size_t len, struct sh_script *out,
		struct cv_err *err)
{
	memset(out, 0, sizeof(*out));
	struct tok t = { .s = text, .len = len, .out = out, .err = err };
	int rc = run(&t);
	if (!rc)
		rc = end_command(&t);
	sh_words_free(&t.cur);
	free(t.word);
	if (rc)
		sh_script_free(out);
	return rc;
}

int sh_tokenize_partial(const char *text, size_t len, struct sh_words *out,
			bool *partial)
{
	struct tok t = { .s = text, .len = len, .partial = true };
	memset(out, 0, sizeof(*out));
	int rc = run(&t);
	bool in_word = t.in_word;
	if (!rc)
		rc = end_word(&t);
	free(t.word);
	if (rc) {
		sh_words_free(&t.cur);
		return rc;
	}
	*out = t.cur;
	*partial = in_word;
	return 0;
}
