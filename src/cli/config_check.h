/*
 * config_check: the `cvisor config check FILE...` command.  It loads and
 * validates each VM config independently and prints either the normalized
 * configuration or every problem found.
 */
#ifndef CV_CONFIG_CHECK_H
#define CV_CONFIG_CHECK_H

#include <stdio.h>

/*
 * argv[0] is "check".  Normalized configs go to out; errors, warnings and
 * usage problems go to errout.  Returns 0 when every file is valid, 1 when
 * any file has errors (or cannot be read), 2 on a usage error.
 */
int cmd_config_check(int argc, char **argv, FILE *out, FILE *errout);

#endif
