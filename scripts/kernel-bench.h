// What the kernel benchmarks (scripts/direct-conv-bench.c, scripts/winograd-conv-bench.c)
// share: a monotonic clock and random inputs.
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H

#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *random_floats(long n) {
  float *p = malloc(sizeof(float) * (size_t)n);
  for (long i = 0; i < n; i++) p[i] = rand() / (float)RAND_MAX - 0.5f;
  return p;
}

#endif
