#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int tu_thread_count(void)
{
	return (int)status_field("Threads");
}

long tu_rss_kb(void)
{
	return status_field("VmRSS");
}

int tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static long pid_status_field(int pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int tu_pid_thread_count(int pid)
{
	return (int)pid_status_field(pid, "Threads");
}

int tu_pid_fd_count(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return d ? n : -1;
}

long tu_scan_number(const char *buf, size_t len, size_t from,
		    const char *prefix, bool first)
{
	long best = -1;
	size_t pl = strlen(prefix);
	const char *p = buf && len > from ? buf + from : NULL;
	while (p && (p = strstr(p, prefix))) {
		bool bol = (size_t)(p - buf) == from || p[-1] == '\n';
		const char *q = p + pl;
		if (bol && *q >= '0' && *q <= '9') {
			char *end;
			long n = strtol(q, &end, 10);
			if (*end == '\r' || *end == '\n') {
				if (first)
					return n;
				if (n > best)
					best = n;
			}
		}
		p = q;
	}
	return best;
}
