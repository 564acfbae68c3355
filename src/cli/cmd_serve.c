/* cmd_serve: `cvisor serve` — options, defaults, then daemon_serve(). */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "hostpaths.h"
#include "log.h"

static const char serve_usage[] =
	"Usage: cvisor serve [--socket PATH] [--state-dir DIR] [--accel auto|kvm|emu]\n"
	"                    [--group GROUP] [--stop-timeout SECONDS]\n"
	"                    [--log-level error|warn|info|debug]\n"
	"\n"
	"Run the hypervisor as a daemon: the `vm` commands over a Unix socket\n"
	"(newline-delimited JSON, docs/protocol.md).  VM definitions are kept in\n"
	"the state directory and re-created (Loaded) when the daemon starts again.\n"
	"SIGTERM or SIGINT stops every VM gracefully, then the daemon exits 0.\n"
	"\n"
	"  --socket PATH        default: /run/cvisor/cvisor.sock as root, else\n"
	"                       $XDG_RUNTIME_DIR/cvisor/cvisor.sock; the socket is\n"
	"                       mode 0600 in a 0700 directory\n"
	"  --state-dir DIR      default: /var/lib/cvisor as root, else\n"
	"                       $XDG_STATE_HOME/cvisor (~/.local/state/cvisor)\n"
	"  --accel auto|kvm|emu backend for configs that say accel = \"auto\"\n"
	"  --group GROUP        members of GROUP may connect too (socket 0660,\n"
	"                       directory 0750, both owned by GROUP)\n"
	"  --stop-timeout SECS  graceful stop at shutdown before forcing (10)\n"
	"  --log-level LEVEL    log lines on stderr from this level up (info)\n"
	"\n"
	"Clients: cvisor [--connect PATH] vm <verb> ..., cvisor --connect PATH shell,\n"
	"cvisor events, cvisor metrics (CVISOR_SOCKET may name the socket).\n";

int cmd_serve(int argc, char **argv)
{
	char sock[PATH_MAX] = "", state[PATH_MAX] = "";
	struct daemon_opts o = { .accel = VM_ACCEL_AUTO, .persist = true };
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i], *val = NULL;
		if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
			fputs(serve_usage, stdout);
			return 0;
		}
		static const char *const names[] = { "--socket", "--state-dir",
			"--accel", "--group", "--stop-timeout", "--log-level" };
		size_t k, n = 0;
		for (k = 0; k < 6; k++) {
			n = strlen(names[k]);
			if (!strncmp(w, names[k], n) && (!w[n] || w[n] == '='))
				break;
		}
		if (k == 6) {
			fprintf(stderr, "cvisor serve: unknown argument '%s'\n\n%s",
				w, serve_usage);
			return 2;
		}
		val = w[n] == '=' ? w + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val) {
			fprintf(stderr, "cvisor serve: %s needs a value\n", names[k]);
			return 2;
		}
		if (k == 0) {
			snprintf(sock, sizeof(sock), "%s", val);
		} else if (k == 1) {
			snprintf(state, sizeof(state), "%s", val);
		} else if (k == 2 && parse_accel(val, &o.accel)) {
			fprintf(stderr, "cvisor serve: --accel: expected auto, kvm "
					"or emu, got '%s'\n", val);
			return 2;
		} else if (k == 3) {
			struct group *g = getgrnam(val);
			char *end;
			unsigned long gid = strtoul(val, &end, 10);
			if (!g && (*end || end == val)) {
				fprintf(stderr, "cvisor serve: --group: no group "
						"'%s'\n", val);
				return 2;
			}
			o.has_group = true;
			o.group = g ? g->gr_gid : (gid_t)gid;
		} else if (k == 4) {
			char *end;
			double secs = strtod(val, &end);
			if (*end || end == val || secs <= 0 || secs > 86400) {
				fprintf(stderr, "cvisor serve: --stop-timeout: "
						"expected seconds (0..86400], got "
						"'%s'\n", val);
				return 2;
			}
			o.stop_timeout_ms = (uint64_t)(secs * 1000.0 + 0.5);
		} else if (k == 5) {
			enum cv_log_level lvl;
			struct cv_err e = {0};
			if (cv_log_parse_level(val, &lvl, &e)) {
				fprintf(stderr, "cvisor serve: --log-level: %s\n",
					e.msg);
				return 2;
			}
			cv_log_sink_set_level(cv_log_default_sink(), lvl);
		}
	}
	if (!sock[0])
		default_socket_path(sock, sizeof(sock));
	if (!state[0])
		default_state_dir(state, sizeof(state));
	o.socket_path = sock;
	o.state_dir = state;
	struct cv_err e = {0};
	int st = daemon_serve(&o, &e);
	if (st)
		fprintf(stderr, "cvisor serve: %s\n", e.msg);
	return st;
}
