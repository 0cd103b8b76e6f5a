#include "machine_peak.h"

#include <math.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// Twelve independent chains: enough to hide an FMA's latency (4 cycles) on two FMA units.
#define CHAINS 12
#define BLOCK 4096
// An empty asm that claims to read and change every chain: the compiler must then do each
// round of FMAs in registers, and can neither merge rounds nor drop them.
#if defined(__x86_64__)
#define KEEP(acc)                                                      \
  __asm__ volatile(""                                                  \
                   : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]),   \
                     "+x"(acc[4]), "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]),   \
                     "+x"(acc[8]), "+x"(acc[9]), "+x"(acc[10]), "+x"(acc[11]))
#else
// Elsewhere the chains go through memory each round: slower, but never optimised away.
#define KEEP(acc) __asm__ volatile("" : : "r"(acc) : "memory")
#endif

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double run_avx512(double seconds) {
  __m512 acc[CHAINS];
  for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_set1_ps(1.0f + 0.001f * (float)k);
  const __m512 scale = _mm512_set1_ps(0.9999999f), shift = _mm512_set1_ps(1e-7f);
  long blocks = 0;
  double start = now_seconds(), elapsed;
  do {
    for (int i = 0; i < BLOCK; i++) {
      for (int k = 0; k < CHAINS; k++) acc[k] = _mm512_fmadd_ps(acc[k], scale, shift);
      KEEP(acc);
    }
    blocks++;
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  __m512 sum = acc[0];
  for (int k = 1; k < CHAINS; k++) sum = _mm512_add_ps(sum, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(sum);
  (void)sink;
  return (double)blocks * BLOCK * CHAINS * 16 * 2 / elapsed;
}

__attribute__((target("avx2,fma"))) static double run_avx2(double seconds) {
  __m256 acc[CHAINS];
  for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_set1_ps(1.0f + 0.001f * (float)k);
  const __m256 scale = _mm256_set1_ps(0.9999999f), shift = _mm256_set1_ps(1e-7f);
  long blocks = 0;
  double start = now_seconds(), elapsed;
  do {
    for (int i = 0; i < BLOCK; i++) {
      for (int k = 0; k < CHAINS; k++) acc[k] = _mm256_fmadd_ps(acc[k], scale, shift);
      KEEP(acc);
    }
    blocks++;
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  __m256 sum = acc[0];
  for (int k = 1; k < CHAINS; k++) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  volatile float sink = lanes[0] + lanes[7];
  (void)sink;
  return (double)blocks * BLOCK * CHAINS * 8 * 2 / elapsed;
}
#endif

static double run_scalar(double seconds) {
  float acc[CHAINS];
  for (int k = 0; k < CHAINS; k++) acc[k] = 1.0f + 0.001f * (float)k;
  long blocks = 0;
  double start = now_seconds(), elapsed;
  do {
    for (int i = 0; i < BLOCK; i++) {
      for (int k = 0; k < CHAINS; k++) acc[k] = fmaf(acc[k], 0.9999999f, 1e-7f);
      KEEP(acc);
    }
    blocks++;
    elapsed = now_seconds() - start;
  } while (elapsed < seconds);
  volatile float sink = acc[0] + acc[CHAINS - 1];
  (void)sink;
  return (double)blocks * BLOCK * CHAINS * 2 / elapsed;
}

double machine_peak_fma_flops(double seconds, int *width) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    *width = 16;
    return run_avx512(seconds);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *width = 8;
    return run_avx2(seconds);
  }
#endif
  *width = 1;
  return run_scalar(seconds);
}
