/*
 * client: the cvisor binary talking to a running `cvisor serve` (SPEC §4):
 * `cvisor [--connect PATH] vm <verb> ...`, `events`, `metrics`, and the
 * shell modes with --connect.  Same output and exit status as the local
 * shell; no reachable daemon is an error, never a local fallback.
 */
#ifndef CV_CLIENT_H
#define CV_CLIENT_H

#include <stdbool.h>

#include "frontend.h"

/* argv[0] is "vm", "events" or "metrics"; NULL path = the default. */
int client_command(const char *connect_path, bool no_color, int argc,
		   char **argv);

/* The shell modes (o->commands, o->script, stdin, interactive) remotely. */
int client_shell(const char *connect_path, const struct shell_main_opts *o);

#endif
