/* SPDX-License-Identifier: MIT */
/* kernels_avx512.c - the avx512 build of the distance kernels (kernels_impl.h).
 */
#define HNSWC_KLEVEL 3 /* HNSWC_KERNEL_AVX512 */
#define HNSWC_KTABLE hnswc_kernels_table_avx512
#define HNSWC_KNAME "avx512"
#include "kernels_impl.h"
