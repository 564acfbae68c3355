/* hostpaths: where cvisor keeps its files on the host (SPEC §5b). */
#ifndef CV_HOSTPATHS_H
#define CV_HOSTPATHS_H

#include <stddef.h>

/* /var/lib/cvisor as root, else $XDG_STATE_HOME/cvisor or ~/.local/state/cvisor */
void default_state_dir(char *buf, size_t len);

#endif
