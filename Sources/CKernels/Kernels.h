#ifndef ONI_KERNELS_INTERNAL_H
#define ONI_KERNELS_INTERNAL_H

// Shared by the kernels' files: functions compiled for AVX-512 or for AVX2 with FMA whatever the
// build's target CPU (called only where oni_kernels_available() says the CPU has them).
#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))

#endif
