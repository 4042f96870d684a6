/* A small unit test framework: TEST(name) { CHECK(...); } in any file
 * linked into berth-unit. Each test runs in its own child process. */
#ifndef BERTH_TEST_H
#define BERTH_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A fresh temporary directory for this test (removed afterwards). */
const char *test_tmpdir(void);

#define TEST(name)                                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void test_reg_##name(void) \
	{                                                              \
		test_register(#name, __FILE__, test_##name);           \
	}                                                              \
	static void test_##name(void)

#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			test_failed(__FILE__, __LINE__, "%s", #cond); \
			return;                                       \
		}                                                     \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			test_failed(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                                    \
	do {                                                                                  \
		const char *_a = (a), *_b = (b);                                              \
		if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {                        \
			test_failed(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			            _a ? _a : "(null)", _b ? _b : "(null)");                  \
			return;                                                               \
		}                                                                             \
	} while (0)

#endif
