/* libcalc: the library under test in the c-tests example. */
#ifndef CALC_H
#define CALC_H

long calc_add(long a, long b);
long calc_sub(long a, long b);
long calc_mul(long a, long b);
/* calc_div divides a by b; it returns 0 and sets *ok to 0 when b is 0. */
long calc_div(long a, long b, int *ok);
/* calc_apply applies the operation named op ("add", "sub", "mul", "div"). */
long calc_apply(const char *op, long a, long b, int *ok);

#endif
