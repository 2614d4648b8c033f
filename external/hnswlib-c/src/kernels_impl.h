/* SPDX-License-Identifier: MIT */
/*
 * kernels_impl.h - one build of the distance kernels (see hnswc_kernels.h).
 *
 * Included once per build by kernels_<level>.c with HNSWC_KLEVEL set to the
 * number of an enum hnswc_kernel_level (a literal: #if compares it) and
 * HNSWC_KTABLE to the name of the table to
 * define; CMake compiles each of those files with the matching -m flags
 * (-msse2, -mavx2 -mfma, -mavx512f -mavx2 -mfma), so only code of that
 * build ever runs this file's instructions, and only after the dispatcher
 * has checked the CPU.  Every function here is static: nothing compiled
 * with wider instructions can be merged into another build.
 *
 * Remainders (n not a multiple of the vector width) are done with masked
 * loads (AVX-512) or scalar loops (the others).
 */
#include <string.h>

#include "hnswc_kernels.h"

#if HNSWC_KLEVEL > 0
#include <immintrin.h>
#endif

/* ---- scalar pieces: the whole scalar build, and remainders ---- */

static inline float ks_dot(const float *a, const float *b, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static inline float ks_l2sq(const float *a, const float *b, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++) {
		float d = a[i] - b[i];
		s += d * d;
	}
	return s;
}

static inline float ks_sq8_l2(const float *a, const float *sc, const uint8_t *c,
			      size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++) {
		float d = a[i] - sc[i] * (float)c[i];
		s += d * d;
	}
	return s;
}

static inline float ks_sq8_dot(const float *w, const uint8_t *c, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += w[i] * (float)c[i];
	return s;
}

static inline float ks_sq8_l2_sym(const float *sc, const uint8_t *x,
				  const uint8_t *y, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++) {
		float d = sc[i] * (float)((int)x[i] - (int)y[i]);
		s += d * d;
	}
	return s;
}

static inline float ks_sq8_dot_sym(const float *lo, const float *sc,
				   const uint8_t *x, const uint8_t *y, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += (lo[i] + sc[i] * (float)x[i]) *
		     (lo[i] + sc[i] * (float)y[i]);
	return s;
}

/* ---- AVX-512F: 16 floats, masked remainders ---- */
#if HNSWC_KLEVEL == 3 /* HNSWC_KERNEL_AVX512 */

static inline __mmask16 k_mask(size_t r)
{
	return (__mmask16)((1u << r) - 1u);
}

/* 16 codes from c[0..r) (r <= 16), as floats; the rest zero. */
static inline __m512 k_codes(const uint8_t *c, size_t r)
{
	__m128i b;
	if (r >= 16) {
		b = _mm_loadu_si128((const __m128i *)c);
	} else {
		uint8_t t[16] = { 0 };
		memcpy(t, c, r);
		b = _mm_loadu_si128((const __m128i *)t);
	}
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
}

static inline float k_dot(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i),
				     _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
				     _mm512_loadu_ps(b + i + 16), s1);
	}
	for (; i < n; i += 16) {
		__mmask16 m = k_mask(n - i < 16 ? n - i : 16);
		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
				     _mm512_maskz_loadu_ps(m, b + i), s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float k_l2sq(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i),
					  _mm512_loadu_ps(b + i));
		__m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16),
					  _mm512_loadu_ps(b + i + 16));
		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16) {
		__mmask16 m = k_mask(n - i < 16 ? n - i : 16);
		__m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
					 _mm512_maskz_loadu_ps(m, b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float k_sq8_l2(const float *a, const float *sc, const uint8_t *c,
			     size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 d0 = _mm512_fnmadd_ps(_mm512_loadu_ps(sc + i),
					     k_codes(c + i, 16),
					     _mm512_loadu_ps(a + i));
		__m512 d1 = _mm512_fnmadd_ps(_mm512_loadu_ps(sc + i + 16),
					     k_codes(c + i + 16, 16),
					     _mm512_loadu_ps(a + i + 16));
		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16) {
		size_t r = n - i < 16 ? n - i : 16;
		__mmask16 m = k_mask(r);
		__m512 d = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m, sc + i),
					    k_codes(c + i, r),
					    _mm512_maskz_loadu_ps(m, a + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float k_sq8_dot(const float *w, const uint8_t *c, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), k_codes(c + i, 16),
				     s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16),
				     k_codes(c + i + 16, 16), s1);
	}
	for (; i < n; i += 16) {
		size_t r = n - i < 16 ? n - i : 16;
		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k_mask(r), w + i),
				     k_codes(c + i, r), s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float k_sq8_l2_sym(const float *sc, const uint8_t *x,
				 const uint8_t *y, size_t n)
{
	__m512 s0 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i < n; i += 16) {
		size_t r = n - i < 16 ? n - i : 16;
		__m512 d = _mm512_mul_ps(
			_mm512_maskz_loadu_ps(k_mask(r), sc + i),
			_mm512_sub_ps(k_codes(x + i, r), k_codes(y + i, r)));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	return _mm512_reduce_add_ps(s0);
}

static inline float k_sq8_dot_sym(const float *lo, const float *sc,
				  const uint8_t *x, const uint8_t *y, size_t n)
{
	__m512 s0 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i < n; i += 16) {
		size_t r = n - i < 16 ? n - i : 16;
		__mmask16 m = k_mask(r);
		__m512 l = _mm512_maskz_loadu_ps(m, lo + i);
		__m512 s = _mm512_maskz_loadu_ps(m, sc + i);
		__m512 u = _mm512_fmadd_ps(s, k_codes(x + i, r), l);
		__m512 v = _mm512_fmadd_ps(s, k_codes(y + i, r), l);
		s0 = _mm512_fmadd_ps(u, v, s0);
	}
	return _mm512_reduce_add_ps(s0);
}

/* ---- AVX2 + FMA: 8 floats, scalar remainders ---- */
#elif HNSWC_KLEVEL == 2 /* HNSWC_KERNEL_AVX2 */

static inline float k_hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v),
			      _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
	return _mm_cvtss_f32(s);
}

/* 8 codes at c as floats. */
static inline __m256 k_codes(const uint8_t *c)
{
	return _mm256_cvtepi32_ps(
		_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)c)));
}

static inline float k_dot(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
				     _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
				     _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
				     _mm256_loadu_ps(b + i), s0);
	return k_hsum(_mm256_add_ps(s0, s1)) + ks_dot(a + i, b + i, n - i);
}

static inline float k_l2sq(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i),
					  _mm256_loadu_ps(b + i));
		__m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8),
					  _mm256_loadu_ps(b + i + 8));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i),
					 _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	return k_hsum(_mm256_add_ps(s0, s1)) + ks_l2sq(a + i, b + i, n - i);
}

static inline float k_sq8_l2(const float *a, const float *sc, const uint8_t *c,
			     size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_fnmadd_ps(_mm256_loadu_ps(sc + i),
					     k_codes(c + i),
					     _mm256_loadu_ps(a + i));
		__m256 d1 = _mm256_fnmadd_ps(_mm256_loadu_ps(sc + i + 8),
					     k_codes(c + i + 8),
					     _mm256_loadu_ps(a + i + 8));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_fnmadd_ps(_mm256_loadu_ps(sc + i),
					    k_codes(c + i),
					    _mm256_loadu_ps(a + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	return k_hsum(_mm256_add_ps(s0, s1)) +
	       ks_sq8_l2(a + i, sc + i, c + i, n - i);
}

static inline float k_sq8_dot(const float *w, const uint8_t *c, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), k_codes(c + i),
				     s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8),
				     k_codes(c + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), k_codes(c + i),
				     s0);
	return k_hsum(_mm256_add_ps(s0, s1)) + ks_sq8_dot(w + i, c + i, n - i);
}

static inline float k_sq8_l2_sym(const float *sc, const uint8_t *x,
				 const uint8_t *y, size_t n)
{
	__m256 s0 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_mul_ps(
			_mm256_loadu_ps(sc + i),
			_mm256_sub_ps(k_codes(x + i), k_codes(y + i)));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	return k_hsum(s0) + ks_sq8_l2_sym(sc + i, x + i, y + i, n - i);
}

static inline float k_sq8_dot_sym(const float *lo, const float *sc,
				  const uint8_t *x, const uint8_t *y, size_t n)
{
	__m256 s0 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 l = _mm256_loadu_ps(lo + i);
		__m256 s = _mm256_loadu_ps(sc + i);
		__m256 u = _mm256_fmadd_ps(s, k_codes(x + i), l);
		__m256 v = _mm256_fmadd_ps(s, k_codes(y + i), l);
		s0 = _mm256_fmadd_ps(u, v, s0);
	}
	return k_hsum(s0) + ks_sq8_dot_sym(lo + i, sc + i, x + i, y + i, n - i);
}

/* ---- SSE2: 4 floats, no FMA, scalar remainders ---- */
#elif HNSWC_KLEVEL == 1 /* HNSWC_KERNEL_SSE2 */

static inline float k_hsum(__m128 s)
{
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
	return _mm_cvtss_f32(s);
}

/* 16 codes at c as four vectors of 4 floats (SSE2 has no cvtepu8). */
static inline void k_codes(const uint8_t *c, __m128 f[4])
{
	__m128i z = _mm_setzero_si128();
	__m128i b = _mm_loadu_si128((const __m128i *)c);
	__m128i lo = _mm_unpacklo_epi8(b, z), hi = _mm_unpackhi_epi8(b, z);
	f[0] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, z));
	f[1] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, z));
	f[2] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, z));
	f[3] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, z));
}

static inline float k_dot(const float *a, const float *b, size_t n)
{
	__m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i),
					       _mm_loadu_ps(b + i)));
		s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4),
					       _mm_loadu_ps(b + i + 4)));
	}
	for (; i + 4 <= n; i += 4)
		s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i),
					       _mm_loadu_ps(b + i)));
	return k_hsum(_mm_add_ps(s0, s1)) + ks_dot(a + i, b + i, n - i);
}

static inline float k_l2sq(const float *a, const float *b, size_t n)
{
	__m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128 d0 =
			_mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
		__m128 d1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4),
				       _mm_loadu_ps(b + i + 4));
		s0 = _mm_add_ps(s0, _mm_mul_ps(d0, d0));
		s1 = _mm_add_ps(s1, _mm_mul_ps(d1, d1));
	}
	for (; i + 4 <= n; i += 4) {
		__m128 d = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
		s0 = _mm_add_ps(s0, _mm_mul_ps(d, d));
	}
	return k_hsum(_mm_add_ps(s0, s1)) + ks_l2sq(a + i, b + i, n - i);
}

static inline float k_sq8_l2(const float *a, const float *sc, const uint8_t *c,
			     size_t n)
{
	__m128 s0 = _mm_setzero_ps(), f[4];
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		k_codes(c + i, f);
		for (int j = 0; j < 4; j++) {
			__m128 d = _mm_sub_ps(
				_mm_loadu_ps(a + i + 4 * j),
				_mm_mul_ps(_mm_loadu_ps(sc + i + 4 * j), f[j]));
			s0 = _mm_add_ps(s0, _mm_mul_ps(d, d));
		}
	}
	return k_hsum(s0) + ks_sq8_l2(a + i, sc + i, c + i, n - i);
}

static inline float k_sq8_dot(const float *w, const uint8_t *c, size_t n)
{
	__m128 s0 = _mm_setzero_ps(), f[4];
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		k_codes(c + i, f);
		for (int j = 0; j < 4; j++)
			s0 = _mm_add_ps(
				s0,
				_mm_mul_ps(_mm_loadu_ps(w + i + 4 * j), f[j]));
	}
	return k_hsum(s0) + ks_sq8_dot(w + i, c + i, n - i);
}

static inline float k_sq8_l2_sym(const float *sc, const uint8_t *x,
				 const uint8_t *y, size_t n)
{
	__m128 s0 = _mm_setzero_ps(), f[4], g[4];
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		k_codes(x + i, f);
		k_codes(y + i, g);
		for (int j = 0; j < 4; j++) {
			__m128 d = _mm_mul_ps(_mm_loadu_ps(sc + i + 4 * j),
					      _mm_sub_ps(f[j], g[j]));
			s0 = _mm_add_ps(s0, _mm_mul_ps(d, d));
		}
	}
	return k_hsum(s0) + ks_sq8_l2_sym(sc + i, x + i, y + i, n - i);
}

static inline float k_sq8_dot_sym(const float *lo, const float *sc,
				  const uint8_t *x, const uint8_t *y, size_t n)
{
	__m128 s0 = _mm_setzero_ps(), f[4], g[4];
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		k_codes(x + i, f);
		k_codes(y + i, g);
		for (int j = 0; j < 4; j++) {
			__m128 l = _mm_loadu_ps(lo + i + 4 * j);
			__m128 s = _mm_loadu_ps(sc + i + 4 * j);
			__m128 u = _mm_add_ps(l, _mm_mul_ps(s, f[j]));
			__m128 v = _mm_add_ps(l, _mm_mul_ps(s, g[j]));
			s0 = _mm_add_ps(s0, _mm_mul_ps(u, v));
		}
	}
	return k_hsum(s0) + ks_sq8_dot_sym(lo + i, sc + i, x + i, y + i, n - i);
}

/* ---- scalar ---- */
#elif HNSWC_KLEVEL == 0 /* HNSWC_KERNEL_SCALAR */

#define k_dot ks_dot
#define k_l2sq ks_l2sq
#define k_sq8_l2 ks_sq8_l2
#define k_sq8_dot ks_sq8_dot
#define k_sq8_l2_sym ks_sq8_l2_sym
#define k_sq8_dot_sym ks_sq8_dot_sym

#else
#error "HNSWC_KLEVEL must be an enum hnswc_kernel_level"
#endif

/* ---- the table ---- */

static float kt_dot(const float *a, const float *b, size_t n)
{
	return k_dot(a, b, n);
}

static float kt_l2sq(const float *a, const float *b, size_t n)
{
	return k_l2sq(a, b, n);
}

static float kt_l2(const void *a, const void *b, const void *p)
{
	return k_l2sq((const float *)a, (const float *)b, *(const size_t *)p);
}

static float kt_ip(const void *a, const void *b, const void *p)
{
	return 1.0f -
	       k_dot((const float *)a, (const float *)b, *(const size_t *)p);
}

static float kt_sq8_l2(const void *a, const void *b, const void *p)
{
	const struct hnswc_sq8_param *q = (const struct hnswc_sq8_param *)p;
	return k_sq8_l2((const float *)a, q->scale, (const uint8_t *)b, q->dim);
}

static float kt_sq8_ip(const void *a, const void *b, const void *p)
{
	const struct hnswc_sq8_param *q = (const struct hnswc_sq8_param *)p;
	return 1.0f - (q->base +
		       k_sq8_dot((const float *)a, (const uint8_t *)b, q->dim));
}

static float kt_sq8_l2_sym(const void *a, const void *b, const void *p)
{
	const struct hnswc_sq8_param *q = (const struct hnswc_sq8_param *)p;
	return k_sq8_l2_sym(q->scale, (const uint8_t *)a, (const uint8_t *)b,
			    q->dim);
}

static float kt_sq8_ip_sym(const void *a, const void *b, const void *p)
{
	const struct hnswc_sq8_param *q = (const struct hnswc_sq8_param *)p;
	return 1.0f - k_sq8_dot_sym(q->lo, q->scale, (const uint8_t *)a,
				    (const uint8_t *)b, q->dim);
}

const struct hnswc_kernels HNSWC_KTABLE = {
	.level = HNSWC_KLEVEL,
	.name = HNSWC_KNAME,
	.dot = kt_dot,
	.l2sq = kt_l2sq,
	.l2 = kt_l2,
	.ip = kt_ip,
	.sq8_l2 = kt_sq8_l2,
	.sq8_ip = kt_sq8_ip,
	.sq8_l2_sym = kt_sq8_l2_sym,
	.sq8_ip_sym = kt_sq8_ip_sym,
};
