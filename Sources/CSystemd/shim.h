// libsystemd, as seen from Swift (pkg-config `libsystemd`, Debian package libsystemd-dev).
//
// Swift cannot call C variadic functions, so the Swift side uses sd_notify (a plain
// string), sd_journal_sendv (an iovec array) and sd_listen_fds; never sd_notifyf or
// sd_journal_send.
#ifndef P2MP_CSYSTEMD_SHIM_H
#define P2MP_CSYSTEMD_SHIM_H

// The Swift side sends CODE_FILE/CODE_LINE/CODE_FUNC itself; no location macros.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
