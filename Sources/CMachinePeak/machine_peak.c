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
// round of FMAs in registers, and can neither merge rounds nor drop them (nor the last:
// each round's results are read by the next asm, so no sum of them is needed afterwards).
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

// One timing loop per vector type, the same in all but the type: VEC, its broadcast SET1, its
// fused multiply-add FMA and its floats per vector LANES; ATTR enables its instructions.
#define DEFINE_FMA_RUN(NAME, ATTR, VEC, SET1, FMA, LANES)                           \
  ATTR static double NAME(double seconds) {                                         \
    VEC acc[CHAINS];                                                               \
    for (int k = 0; k < CHAINS; k++) acc[k] = SET1(1.0f + 0.001f * (float)k);      \
    const VEC scale = SET1(0.9999999f), shift = SET1(1e-7f);                        \
    long blocks = 0;                                                               \
    double start = now_seconds(), elapsed;                                         \
    do {                                                                           \
      for (int i = 0; i < BLOCK; i++) {                                            \
        for (int k = 0; k < CHAINS; k++) acc[k] = FMA(acc[k], scale, shift);       \
        KEEP(acc);                                                                 \
      }                                                                            \
      blocks++;                                                                    \
      elapsed = now_seconds() - start;                                             \
    } while (elapsed < seconds);                                                   \
    return (double)blocks * BLOCK * CHAINS * LANES * 2 / elapsed;                  \
  }

#define SCALAR_SET1(v) (v)

#if defined(__x86_64__)
DEFINE_FMA_RUN(run_avx512, __attribute__((target("avx512f"))), __m512, _mm512_set1_ps,
               _mm512_fmadd_ps, 16)
DEFINE_FMA_RUN(run_avx2, __attribute__((target("avx2,fma"))), __m256, _mm256_set1_ps,
               _mm256_fmadd_ps, 8)
#endif
DEFINE_FMA_RUN(run_scalar, , float, SCALAR_SET1, fmaf, 1)

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
