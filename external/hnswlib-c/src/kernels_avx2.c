/* SPDX-License-Identifier: MIT */
/* kernels_avx2.c - the avx2 build of the distance kernels (kernels_impl.h). */
#define HNSWC_KLEVEL 2 /* HNSWC_KERNEL_AVX2 */
#define HNSWC_KTABLE hnswc_kernels_table_avx2
#define HNSWC_KNAME "avx2"
#include "kernels_impl.h"
