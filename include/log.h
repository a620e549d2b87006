/*
 * Logging for netd: stderr in the foreground with -d, syslog otherwise.
 * Every function saves and restores errno. Messages are lower case, with
 * no trailing period or newline.
 */
#ifndef NETD_INCLUDE_LOG_H
#define NETD_INCLUDE_LOG_H

#include <stdarg.h>

/* debug: 0 syslog, 1 stderr, 2 stderr with debug messages. */
void	log_init(int debug, int facility);
/* Process name that prefixes fatal messages ("netd", later "dns"). */
void	log_procinit(const char *);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* NETD_INCLUDE_LOG_H */
