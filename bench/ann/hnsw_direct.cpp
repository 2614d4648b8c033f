// SPDX-License-Identifier: MIT
//
// hnsw_direct.cpp - hnswlib 0.6.2 (Debian's header-only package) driven
// directly from C++, as the peer the `vector` backend is measured against.
// Compiled with the shim's flags (-O3, the same SIMD level) so the two run
// the same kernels.
#include <hnswlib/hnswlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "bench_data.h"
#include "hnsw_direct.h"

struct hnsw_direct {
	std::unique_ptr<hnswlib::SpaceInterface<float>> space;
	std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
	size_t dim;
	bool normalise;
};

static double now()
{
	return std::chrono::duration<double>(
		       std::chrono::steady_clock::now().time_since_epoch())
		.count();
}

static void normalise(float *v, size_t dim)
{
	float s = 0;

	for (size_t i = 0; i < dim; i++)
		s += v[i] * v[i];
	s = std::sqrt(s);
	if (s > 0)
		for (size_t i = 0; i < dim; i++)
			v[i] /= s;
}

template <class F> static void parallel(size_t n, int threads, F fn)
{
	if (threads <= 1) {
		for (size_t i = 0; i < n; i++)
			fn(i);
		return;
	}
	std::vector<std::thread> th;
	for (int t = 0; t < threads; t++)
		th.emplace_back([&, t]() {
			for (size_t i = (size_t)t; i < n; i += (size_t)threads)
				fn(i);
		});
	for (auto &x : th)
		x.join();
}

extern "C" struct hnsw_direct *hnsw_direct_build(const float *base, size_t n,
						 size_t dim, int metric,
						 size_t m, size_t efc,
						 int threads, double *seconds,
						 char *why, size_t whylen)
{
	try {
		std::unique_ptr<hnsw_direct> h(new hnsw_direct());
		double t0 = now();

		h->dim = dim;
		h->normalise = metric == 0;
		if (metric == 1)
			h->space.reset(new hnswlib::L2Space(dim));
		else
			h->space.reset(new hnswlib::InnerProductSpace(dim));
		h->index.reset(new hnswlib::HierarchicalNSW<float>(
			h->space.get(), n, m, efc, 100));
		parallel(n, threads, [&](size_t i) {
			if (h->normalise) {
				std::vector<float> v(base + i * dim,
						     base + (i + 1) * dim);
				normalise(v.data(), dim);
				h->index->addPoint(v.data(), i);
			} else {
				h->index->addPoint(base + i * dim, i);
			}
		});
		*seconds = now() - t0;
		return h.release();
	} catch (const std::exception &e) {
		snprintf(why, whylen, "hnswlib: %s", e.what());
		return nullptr;
	}
}

extern "C" double hnsw_direct_search(struct hnsw_direct *h,
				     const float *queries, size_t nq, size_t k,
				     int ef, int threads, long *ids)
{
	double t0;

	h->index->setEf((size_t)ef);
	/* One thread: its CPU time, as the backend's single-thread timing. */
	t0 = threads <= 1 ? bench_cpu_now() : now();
	parallel(nq, threads, [&](size_t i) {
		const float *q = queries + i * h->dim;
		std::vector<float> tmp;

		if (h->normalise) {
			tmp.assign(q, q + h->dim);
			normalise(tmp.data(), h->dim);
			q = tmp.data();
		}
		auto res = h->index->searchKnn(q, k);
		size_t j = res.size();

		for (size_t x = j; x < k; x++)
			ids[i * k + x] = -1;
		while (!res.empty()) {
			ids[i * k + --j] = (long)res.top().second;
			res.pop();
		}
	});
	return (threads <= 1 ? bench_cpu_now() : now()) - t0;
}

extern "C" void hnsw_direct_free(struct hnsw_direct *h)
{
	delete h;
}
