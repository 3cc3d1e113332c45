/* SPDX-License-Identifier: MIT */
/* One way to say something on stderr: "pciem-lua: message". */
#ifndef PL_LOG_H
#define PL_LOG_H

enum pl_log_level {
	PL_LOG_ERR = 0,
	PL_LOG_INFO = 1,
	PL_LOG_DEBUG = 2,
};

/* Messages above this level are dropped; -v raises it. */
extern int pl_log_level;

void pl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* PL_LOG_H */
