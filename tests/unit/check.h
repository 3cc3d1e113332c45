/* SPDX-License-Identifier: MIT */
/*
 * Tiny harness for the C unit tests: TEST() defines a case, CHECK*() record
 * failures, RUN() runs a case and reports one PASS/FAIL line, check_done() ends.
 *
 *	TEST(bar_sizing) { CHECK_EQ(read(0x10), 0xfffff000); }
 *	int main(void) { RUN(bar_sizing); return check_done(); }
 *
 * Result lines are "PASS unit/<suite>.<case>" (suite = the file name without
 * "test_" and ".c"); they are printed and, when PCIEM_RESULTS names a file,
 * appended to it. check_done() returns the process exit status (1 on failure).
 */
#ifndef PCIEM_CHECK_H
#define PCIEM_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_case_failures;	/* failed checks in the running case */
static int check_failed_cases;
static int check_passed_cases;

#define TEST(name) static void name(void)

#define CHECK(cond) check_true(!!(cond), #cond, __FILE__, __LINE__)

/* Compare as unsigned 64-bit and print both sides on failure. */
#define CHECK_EQ(actual, expected) \
	check_eq((unsigned long long)(actual), (unsigned long long)(expected), \
		 #actual, #expected, __FILE__, __LINE__)

/* A string (e.g. an error message) contains a fragment. */
#define CHECK_HAS(str, frag) check_has((str), (frag), #str, __FILE__, __LINE__)

#define RUN(name) check_run(__FILE__, #name, name)

static inline void check_fail_head(const char *file, int line)
{
	check_case_failures++;
	fprintf(stderr, "  %s:%d: ", file, line);
}

static inline void check_true(int ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	check_fail_head(file, line);
	fprintf(stderr, "CHECK(%s) failed\n", expr);
}

static inline void check_eq(unsigned long long actual, unsigned long long expected,
			    const char *a_expr, const char *e_expr, const char *file, int line)
{
	if (actual == expected)
		return;
	check_fail_head(file, line);
	fprintf(stderr, "%s == 0x%llx, expected %s == 0x%llx\n",
		a_expr, actual, e_expr, expected);
}

static inline void check_has(const char *str, const char *frag, const char *expr,
			     const char *file, int line)
{
	if (str && strstr(str, frag))
		return;
	check_fail_head(file, line);
	fprintf(stderr, "%s = \"%s\" lacks \"%s\"\n", expr, str ? str : "(null)", frag);
}

static inline void check_report(const char *verdict, const char *suite_file, const char *name)
{
	const char *base = strrchr(suite_file, '/');
	const char *path = getenv("PCIEM_RESULTS");
	char suite[64];
	size_t len;
	FILE *out;

	base = base ? base + 1 : suite_file;
	if (!strncmp(base, "test_", 5))
		base += 5;
	len = strcspn(base, ".");
	if (len >= sizeof(suite))
		len = sizeof(suite) - 1;
	memcpy(suite, base, len);
	suite[len] = '\0';

	printf("%s unit/%s.%s\n", verdict, suite, name);
	fflush(stdout);
	if (path && *path) {
		out = fopen(path, "a");
		if (!out) {
			perror(path);
			exit(2);
		}
		fprintf(out, "%s unit/%s.%s\n", verdict, suite, name);
		fclose(out);
	}
}

static inline void check_run(const char *suite_file, const char *name, void (*fn)(void))
{
	check_case_failures = 0;
	fn();
	if (check_case_failures) {
		check_failed_cases++;
		check_report("FAIL", suite_file, name);
	} else {
		check_passed_cases++;
		check_report("PASS", suite_file, name);
	}
}

static inline int check_done(void)
{
	return check_failed_cases ? 1 : 0;
}

#endif /* PCIEM_CHECK_H */
