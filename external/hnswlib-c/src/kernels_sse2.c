/* SPDX-License-Identifier: MIT */
/* kernels_sse2.c - the sse2 build of the distance kernels (kernels_impl.h). */
#define HNSWC_KLEVEL 1 /* HNSWC_KERNEL_SSE2 */
#define HNSWC_KTABLE hnswc_kernels_table_sse2
#define HNSWC_KNAME "sse2"
#include "kernels_impl.h"
