// SPDX-License-Identifier: MIT
/* Logging to stderr with the program's prefix; one line per call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pl_log.h"

int pl_log_level = PL_LOG_INFO;

void pl_log(int level, const char *fmt, ...)
{
	char line[2048];
	size_t n;
	va_list ap;

	if (level > pl_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* one fputs per line so concurrent writers do not interleave mid-line */
	fprintf(stderr, "pciem-lua: %s\n", line);
	fflush(stderr);
}
