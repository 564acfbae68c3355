/*
 * tokenize: the shell's command-line syntax (SPEC §2), as pure functions.
 *
 *   words        separated by blanks (space, tab, CR, VT, FF)
 *   ; or newline separate commands (empty commands are dropped)
 *   #            at the start of a word: a comment to the end of the line
 *   '...'        literal text
 *   "..."        text with escapes \\ \" \n \t \r (and backslash-newline
 *                continues the line); any other \x stays as typed
 *   \x           outside quotes: x taken literally; backslash-newline
 *                continues the line
 *
 * Quoted and unquoted parts of one word concatenate (a"b c"d = "ab cd").
 * An unterminated quote, a trailing backslash or a NUL byte is an error.
 */
#ifndef CV_SH_TOKENIZE_H
#define CV_SH_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SH_MAX_WORDS 4096		/* per command */
#define SH_MAX_TEXT (1u << 20)		/* bytes per call */

/* One command: argv-style, v[n] == NULL. */
struct sh_words {
	char **v;
	size_t n;
};

struct sh_script {
	struct sh_words *cmds;
	size_t n;
};

/* Split text into commands; *out is empty on error (err says where). */
int sh_tokenize(const char *text, size_t len, struct sh_script *out,
		struct cv_err *err);
void sh_script_free(struct sh_script *s);

/*
 * For completion: the words of the last command in text (an unfinished
 * quote is tolerated).  *partial is true when text ends inside a word;
 * that word is then the last one of *out.
 */
int sh_tokenize_partial(const char *text, size_t len, struct sh_words *out,
			bool *partial);
void sh_words_free(struct sh_words *w);

#endif
