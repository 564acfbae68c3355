/* hostpaths: where cvisor keeps its files on the host (SPEC §5b). */
#ifndef CV_HOSTPATHS_H
#define CV_HOSTPATHS_H

#include <stddef.h>

/* /var/lib/cvisor as root, else $XDG_STATE_HOME/cvisor or ~/.local/state/cvisor */
void default_state_dir(char *buf, size_t len);

/*
 * The daemon's socket: /run/cvisor/cvisor.sock as root, else
 * $XDG_RUNTIME_DIR/cvisor/cvisor.sock (/tmp/cvisor-<uid>/cvisor.sock
 * without XDG_RUNTIME_DIR).
 */
void default_socket_path(char *buf, size_t len);

/* What a client connects to: $CVISOR_SOCKET, else the default. */
void client_socket_path(char *buf, size_t len);

#endif
