/*
 * run-tests: checks libcalc against the cases in every *.cases file of a
 * fixtures directory. A case is a line "OP A B WANT" ("div 1 0 error" for
 * a refused division); "#" starts a comment. Prints one line per case, a
 * summary, and exits 1 if any case failed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static int run_file(const char *dir, const char *name, int *total)
{
	char path[4096], line[256];
	int failed = 0, lineno = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		char op[16], want[32];
		long a, b;
		int ok;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%15s %ld %ld %31s", op, &a, &b, want) != 4) {
			fprintf(stderr, "%s:%d: bad case: %s", path, lineno, line);
			failed++;
			continue;
		}
		long got = calc_apply(op, a, b, &ok);
		char gots[32];
		if (ok)
			snprintf(gots, sizeof gots, "%ld", got);
		else
			snprintf(gots, sizeof gots, "error");
		(*total)++;
		if (strcmp(gots, want) == 0) {
			printf("ok - %s:%d %s %ld %ld = %s\n", name, lineno, op, a, b, gots);
		} else {
			printf("FAIL - %s:%d %s %ld %ld = %s, want %s\n", name, lineno, op, a, b, gots, want);
			failed++;
		}
	}
	fclose(f);
	return failed;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_cases(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 6 && strcmp(d->d_name + n - 6, ".cases") == 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fixtures";
	struct dirent **names;
	int total = 0, failed = 0;

	int n = scandir(dir, &names, is_cases, by_name);
	if (n < 0) {
		perror(dir);
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "%s: no *.cases files\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		failed += run_file(dir, names[i]->d_name, &total);
		free(names[i]);
	}
	free(names);
	printf("%d cases, %d failed\n", total, failed);
	return failed ? 1 : 0;
}
