/* cli: the top-level commands of the cvisor binary (one file each). */
#ifndef CV_CLI_H
#define CV_CLI_H

#include "vmconfig.h"

int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);	/* cmd_serve.c */

/* "auto" | "kvm" | "emu" -> 0, else -EINVAL */
int parse_accel(const char *s, enum vm_accel *out);

#endif
