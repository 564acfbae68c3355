/* metrics: the `metrics` command (Prometheus text format).  STUB for now. */
#include "shell_int.h"

int sh_cmd_metrics(struct sh_ctx *c, size_t argc, char *const *argv)
{
	(void)argc; (void)argv;
	sh_err(c, "metrics: not implemented yet\n");
	return SH_FAILED;
}
