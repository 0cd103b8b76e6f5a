#ifndef MACHINE_PEAK_H
#define MACHINE_PEAK_H

/// Runs fused multiply-adds on independent registers for about `seconds` on the calling
/// thread, with the widest vectors this CPU has (AVX-512, else AVX2+FMA, else scalar
/// fmaf), and returns the floating-point operations per second achieved (an FMA counts
/// as two). `width` receives the number of floats per vector used.
double machine_peak_fma_flops(double seconds, int *width);

#endif
