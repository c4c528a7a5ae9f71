#include <string.h>

#include "calc.h"

long calc_add(long a, long b) { return a + b; }
long calc_sub(long a, long b) { return a - b; }
long calc_mul(long a, long b) { return a * b; }

long calc_div(long a, long b, int *ok)
{
	*ok = b != 0;
	return b ? a / b : 0;
}

long calc_apply(const char *op, long a, long b, int *ok)
{
	*ok = 1;
	if (strcmp(op, "add") == 0)
		return calc_add(a, b);
	if (strcmp(op, "sub") == 0)
		return calc_sub(a, b);
	if (strcmp(op, "mul") == 0)
		return calc_mul(a, b);
	if (strcmp(op, "div") == 0)
		return calc_div(a, b, ok);
	*ok = 0;
	return 0;
}
