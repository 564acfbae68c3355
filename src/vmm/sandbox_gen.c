/*
 * sandbox-gen: a build-time tool.  Compiles every seccomp profile of
 * sandbox.c (built with CV_SANDBOX_GEN) through libseccomp and prints the
 * programs and the system call name table as C (sandbox_pre.h), which
 * the library's sandbox.c includes instead of compiling at run time.
 */
#include <stdio.h>

int sandbox_gen_write(FILE *out);

int main(void)
{
	return sandbox_gen_write(stdout);
}
