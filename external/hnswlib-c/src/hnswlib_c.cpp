/* SPDX-License-Identifier: MIT */
/*
 * hnswlib_c.cpp - the C shim over hnswlib 0.6.2 (see include/hnswlib_c.h).
 *
 * What is hnswlib's and what is ours:
 *   - graph construction (searchBaseLayer, mutuallyConnectNewElement, the
 *     neighbour heuristic; addPoint for replace/undelete of an existing
 *     label), the visited list pool and the in-memory layout are hnswlib's;
 *   - the insertion of a new label is our own copy of addPoint's steps
 *     (insert_new): it draws the level from the seed and the label instead
 *     of hnswlib's level generator, which addPoint advances without a lock,
 *     so that several threads can insert at once (hnswc_add_batch), and it
 *     writes an SQ8 element's float row before the element is linked;
 *   - search is our own loop over hnswlib's public members: it takes the
 *     query's ef as an argument (hnswlib 0.6.2 reads the shared ef_ and has
 *     no filter argument), applies the label filter, and takes hnswlib's
 *     per-element link-list locks while it copies a neighbour list, as
 *     hnswlib's own construction-time search does, so that it can run while
 *     addPoint() inserts a new element;
 *   - resize is our own exception-safe version of resizeIndex();
 *   - save writes hnswlib's saveIndex() layout; load parses and checks every
 *     field itself and fills the index's members directly: hnswlib's
 *     loadIndex() trusts the file and is never called.
 *
 * Locking (per index):
 *   wmu  (mutex)   serialises writers: add, add_batch, train, retrain,
 *                  mark_deleted, resize, save.  A batch holds it throughout,
 *                  its insert threads run under the caller's hold.
 *   rw   (rwlock)  searches and getters: shared.  Adding new labels: shared,
 *                  taken once by the thread that runs the batch; its insert
 *                  threads (insert_new, one or several) rely on that hold
 *                  and on hnswlib's per-element locks.  Replacing or
 *                  undeleting a label, marking deleted, resize, (re)train:
 *                  exclusive.  Every exclusive holder holds wmu first, so
 *                  no writer can be queued on rw while a batch's threads
 *                  run (the writer-preferring rwlock would otherwise block
 *                  new shared holders).
 *   hnswlib's own: cur_element_count_guard_ (label map, element count),
 *                  global (entry point and top level), link_list_locks_[i]
 *                  (element i's neighbour lists; held by its inserter until
 *                  it is fully linked).  insert_new takes global before the
 *                  new element's lock, and never waits for global while it
 *                  holds an element's lock.
 * Order: wmu -> rw -> hnswlib's locks.  The rwlock prefers writers (glibc),
 * so a stream of searches cannot starve a writer.
 *
 * Slots: a new element's internal id is taken under cur_element_count_guard_
 * and is distinct for every thread; the arrays indexed by it (hnswlib's,
 * and `raw` for SQ8) have room for the whole capacity, which only
 * hnswc_resize() changes (exclusive, never during a batch: the batch checks
 * that its new labels fit before it starts).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

/*
 * hnswlib.h defines non-inline functions at global scope (cpuid, xgetbv,
 * AVXCapable, AVX512Capable) and non-const function pointers in namespace
 * hnswlib (L2SqrSIMD16Ext, ...).  Rename the namespace and those functions,
 * so that a program may link this library and also include hnswlib itself
 * (a benchmark comparing the two) without duplicate symbols, and so that
 * hnswlib templates instantiated here (possibly with other -m flags, see
 * HNSWLIB_C_SIMD) can never be merged with another object's instances.
 * `hnswlib::` below therefore means hnswc_hnswlib::.
 */
#define hnswlib hnswc_hnswlib
#define cpuid hnswc_hnswlib_cpuid
#define xgetbv hnswc_hnswlib_xgetbv
#define AVXCapable hnswc_hnswlib_AVXCapable
#define AVX512Capable hnswc_hnswlib_AVX512Capable
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable

#include "hnswc_kernels.h"
#include "hnswlib_c.h"

using hnswlib::labeltype;
using hnswlib::linklistsizeint;
using hnswlib::tableint;
typedef hnswlib::HierarchicalNSW<float> Hnsw;

static_assert(sizeof(labeltype) == sizeof(uint64_t), "64-bit labels");
static_assert(sizeof(size_t) == 8, "the hnswlib file layout assumed here "
				   "has 64-bit size_t fields");
static_assert(sizeof(tableint) == 4 && sizeof(linklistsizeint) == 4,
	      "hnswlib 0.6.2 ids and list headers are 32-bit");

/* Fixed part of the saved layout, see hnsw_header below. */
#define HDR_SIZE ((size_t)HNSWC_SAVED_LEVEL0_OFFSET)
/* Upper bound on the top level accepted from a file (real: ~log_M(n)). */
#define MAX_LEVEL 255
/* Upper bound on ef_construction accepted from a file. */
#define MAX_EF_CONSTRUCTION ((size_t)1 << 20)

/*
 * The shim's own hnswlib space: hnswlib's L2Space/InnerProductSpace pick
 * their kernels with #ifdef at compile time (the x86-64 baseline, SSE, for
 * a binary that must run anywhere); this one hands hnswlib the kernels
 * hnswc_kernels() picked for the CPU at run time.  Same distances: squared
 * L2, and 1 - dot for inner product.  For SQ8 the graph's data are codes
 * and hnswlib's own distance (construction) compares two code vectors;
 * searches use the asymmetric kernels (float query against codes).
 * lo/scale change only by hnswc_train() on an empty index, under the
 * exclusive lock.
 */
class KernelSpace : public hnswlib::SpaceInterface<float>
{
public:
	int space, quant;
	size_t dim;
	const struct hnswc_kernels *k;
	std::vector<float> lo, scale, inv; /* SQ8 quantiser */
	struct hnswc_sq8_param sym;	   /* dim, lo, scale */

	KernelSpace(int sp, int q, size_t d)
	    : space(sp), quant(q), dim(d), k(hnswc_kernels())
	{
		if (quant == HNSWC_QUANT_SQ8) {
			lo.assign(dim, 0.0f);
			scale.assign(dim, 0.0f);
			inv.assign(dim, 0.0f);
		}
		sym.dim = dim;
		sym.lo = lo.data();
		sym.scale = scale.data();
		sym.base = 0;
	}
	size_t get_data_size() override
	{
		return quant == HNSWC_QUANT_SQ8 ? dim : dim * sizeof(float);
	}
	hnswlib::DISTFUNC<float> get_dist_func() override
	{
		if (quant == HNSWC_QUANT_SQ8)
			return space == HNSWC_L2 ? k->sq8_l2_sym
						 : k->sq8_ip_sym;
		return float_dist();
	}
	void *get_dist_func_param() override
	{
		if (quant == HNSWC_QUANT_SQ8)
			return &sym;
		return &dim;
	}
	/* The exact distance on float vectors (param: &dim). */
	hnswlib::DISTFUNC<float> float_dist() const
	{
		return space == HNSWC_L2 ? k->l2 : k->ip;
	}
	/* Codes of x (dim floats) into c (dim bytes). */
	void encode(const float *x, uint8_t *c) const
	{
		for (size_t i = 0; i < dim; i++) {
			float v = (x[i] - lo[i]) * inv[i] + 0.5f;
			c[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
		}
	}
	/* Set the step and its inverse of dimension i from a range. */
	void set_range(size_t i, float min, float max)
	{
		float st = (max - min) / 255.0f;
		if (!(st > 0) || !std::isfinite(st))
			st = 1.0f / 255.0f; /* one value seen: [min, min+1] */
		lo[i] = min;
		scale[i] = st;
		inv[i] = 1.0f / st;
	}
};

struct hnswc_index {
	int space;
	int quant;
	size_t dim;
	/* Declared before h: h points into it, so it must outlive h. */
	std::unique_ptr<KernelSpace> sp;
	/* SQ8: the float vectors by internal id, room for the capacity.
	 * A new element's row is written before hnswlib publishes it; rows
	 * of existing ids change only under the exclusive lock. */
	float *raw = nullptr;
	std::atomic<bool> trained{ false };
	std::atomic<size_t> rerank{ HNSWC_DEFAULT_RERANK };
	std::unique_ptr<Hnsw> h;
	mutable pthread_rwlock_t rw;
	mutable std::mutex wmu;
	std::atomic<size_t> ef{ HNSWC_DEFAULT_EF };
	/* Seeds the levels of new elements (draw_level); hnswlib's own
	 * default for an index loaded from a file. */
	uint64_t seed = 100;
	/* A failed insert left a half-made element: refuse writes. */
	std::atomic<bool> broken{ false };
	/* Searches in flight and their peak (for hnswc_memory_bytes). */
	mutable std::atomic<size_t> active{ 0 };
	mutable std::atomic<size_t> peak{ 0 };
	/* The bottom layer (h->data_level0_memory_) when it is a mapping
	 * (hnswc_load_map_q) rather than hnswlib's malloc() block: l0len
	 * bytes, the first l0file of them mapped copy-on-write from the
	 * snapshot file, the rest anonymous.  Replaced by a malloc() block
	 * when a resize needs more room. */
	void *l0map = nullptr;
	size_t l0len = 0, l0file = 0;
	/* Loaded with HNSWC_LOAD_DEFER and not checked yet: the bottom
	 * layer's lists, the labels and the label map wait for
	 * hnswc_verify() (under wmu).  `bad` keeps a failed check's
	 * message; the index then refuses writes (broken). */
	std::atomic<bool> deferred{ false };
	std::string bad;
	/*
	 * Searches without the per-element locks.  An insert of a new label
	 * rewrites neighbour lists while searches run (both hold rw shared),
	 * so a search copies each list under its element's lock, a lock per
	 * node expanded.  When nothing is being inserted that is wasted: a
	 * search announces itself in `bare`, then reads `inserting`; an
	 * insert announces itself in `inserting`, then waits until `bare` is
	 * 0.  Sequentially consistent, one of the two always sees the other:
	 * a search sees an insert and takes the locks, or the insert waits
	 * for the bare searches to end.
	 */
	mutable std::atomic<long> inserting{ 0 };
	mutable std::atomic<long> bare{ 0 };

	hnswc_index()
	{
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
#ifdef __GLIBC__
		pthread_rwlockattr_setkind_np(
			&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
		int rc = pthread_rwlock_init(&rw, &a);
		pthread_rwlockattr_destroy(&a);
		if (rc)
			throw std::runtime_error("cannot initialise a rwlock");
	}
	~hnswc_index()
	{
		if (l0map && h)
			h->data_level0_memory_ = nullptr; /* not hnswlib's */
		h.reset();
		if (l0map)
			munmap(l0map, l0len);
		free(raw);
		pthread_rwlock_destroy(&rw);
	}
	hnswc_index(const hnswc_index &) = delete;
	hnswc_index &operator=(const hnswc_index &) = delete;
};

namespace
{

class RdLock
{
	pthread_rwlock_t *l_;

public:
	explicit RdLock(pthread_rwlock_t *l) : l_(l)
	{
		if (pthread_rwlock_rdlock(l_))
			throw std::runtime_error(
				"pthread_rwlock_rdlock failed");
	}
	~RdLock()
	{
		pthread_rwlock_unlock(l_);
	}
	RdLock(const RdLock &) = delete;
	RdLock &operator=(const RdLock &) = delete;
};

class WrLock
{
	pthread_rwlock_t *l_;

public:
	explicit WrLock(pthread_rwlock_t *l) : l_(l)
	{
		if (pthread_rwlock_wrlock(l_))
			throw std::runtime_error(
				"pthread_rwlock_wrlock failed");
	}
	~WrLock()
	{
		pthread_rwlock_unlock(l_);
	}
	WrLock(const WrLock &) = delete;
	WrLock &operator=(const WrLock &) = delete;
};

} /* namespace */

/* ---- errors ---- */

static void err_clear(hnswc_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

__attribute__((format(printf, 3, 4))) static int
err_set(hnswc_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;

		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * Run f() (returning an int code), turning every C++ exception into an
 * error code: nothing may unwind into C.  hnswlib reports allocation
 * failures as std::runtime_error("Not enough memory...").
 */
template <typename F>
static int guarded(hnswc_error *err, const char *what, F &&f) noexcept
{
	try {
		int rc = f();
		if (rc >= 0)
			err_clear(err);
		return rc;
	} catch (const std::bad_alloc &) {
		return err_set(err, HNSWC_ENOMEM, "%s: out of memory", what);
	} catch (const std::exception &e) {
		const char *m = e.what();
		int code = strncmp(m, "Not enough memory", 17) == 0
				   ? HNSWC_ENOMEM
				   : HNSWC_EINTERNAL;
		return err_set(err, code, "%s: %s", what, m);
	} catch (...) {
		return err_set(err, HNSWC_EINTERNAL,
			       "%s: unknown C++ exception", what);
	}
}

/* Same for functions that return a value and cannot report an error. */
template <typename T, typename F> static T quiet(T fallback, F &&f) noexcept
{
	try {
		return f();
	} catch (...) {
		return fallback;
	}
}

extern "C" const char *hnswc_strerror(int code)
{
	switch (code) {
	case HNSWC_OK:
		return "success";
	case HNSWC_EINVAL:
		return "invalid argument";
	case HNSWC_ENOMEM:
		return "out of memory";
	case HNSWC_EIO:
		return "I/O error";
	case HNSWC_EFULL:
		return "index full";
	case HNSWC_ECORRUPT:
		return "corrupt index data";
	case HNSWC_EINTERNAL:
		return "internal error";
	case HNSWC_ENOTFOUND:
		return "label not found";
	default:
		return "unknown error";
	}
}

/* ---- helpers ---- */

static bool all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/*
 * Set up idx's space for (space, quant, dim) and, for SQ8, the float rows
 * for `cap` elements.
 */
static void make_space(hnswc_index *x, int space, int quant, size_t dim,
		       size_t cap)
{
	x->space = space;
	x->quant = quant;
	x->dim = dim;
	x->sp.reset(new KernelSpace(space, quant, dim));
	if (quant == HNSWC_QUANT_SQ8) {
		x->raw = (float *)malloc(cap * dim * sizeof(float));
		if (!x->raw)
			throw std::bad_alloc();
	}
}

static int check_quant(int quant, hnswc_error *err)
{
	if (quant != HNSWC_QUANT_NONE && quant != HNSWC_QUANT_SQ8)
		return err_set(
			err, HNSWC_EINVAL,
			"quantisation %d is neither HNSWC_QUANT_NONE (0) "
			"nor HNSWC_QUANT_SQ8 (1)",
			quant);
	return 0;
}

static int check_params(int space, size_t dim, hnswc_error *err)
{
	if (space != HNSWC_L2 && space != HNSWC_IP)
		return err_set(
			err, HNSWC_EINVAL,
			"space %d is neither HNSWC_L2 (0) nor HNSWC_IP (1)",
			space);
	if (dim < 1 || dim > HNSWC_MAX_DIM)
		return err_set(err, HNSWC_EINVAL, "dim %zu is not in [1, %zu]",
			       dim, HNSWC_MAX_DIM);
	return 0;
}

static size_t element_count(const Hnsw *h)
{
	std::lock_guard<std::mutex> g(
		const_cast<Hnsw *>(h)->cur_element_count_guard_);
	return h->cur_element_count;
}

/* Internal id of a label, or false.  Caller holds rw (shared or not). */
static bool lookup(const Hnsw *h, labeltype label, tableint *id)
{
	Hnsw *m = const_cast<Hnsw *>(h);
	std::lock_guard<std::mutex> g(m->cur_element_count_guard_);
	auto it = m->label_lookup_.find(label);
	if (it == m->label_lookup_.end())
		return false;
	*id = it->second;
	return true;
}

/*
 * hnswlib's insertion code prefetches one id past the end of a neighbour
 * list (`datal + j + 1`).  On the bottom layer that lands inside the
 * element's record; an upper-layer list block as hnswlib allocates it has
 * 1 spare byte, so the prefetch would read up to 3 bytes past it (harmless
 * with glibc, whose chunks are larger, but an out-of-bounds read all the
 * same, and AddressSanitizer says so).  Every upper-layer block the shim
 * allocates (insert_new, load) has LIST_SLACK spare bytes.
 */
#define LIST_SLACK 16

/* ---- create / free ---- */

extern "C" int hnswc_create(int space, size_t dim, size_t max_elements,
			    size_t m, size_t ef_construction, uint64_t seed,
			    hnswc_index **out, hnswc_error *err)
{
	return hnswc_create_q(space, HNSWC_QUANT_NONE, dim, max_elements, m,
			      ef_construction, seed, out, err);
}

extern "C" int hnswc_create_q(int space, int quant, size_t dim,
			      size_t max_elements, size_t m,
			      size_t ef_construction, uint64_t seed,
			      hnswc_index **out, hnswc_error *err)
{
	if (!out)
		return err_set(err, HNSWC_EINVAL, "hnswc_create: out is NULL");
	*out = nullptr;
	int rc = check_params(space, dim, err);
	if (!rc)
		rc = check_quant(quant, err);
	if (rc)
		return rc;
	if (max_elements < 1 || max_elements > HNSWC_MAX_ELEMENTS)
		return err_set(err, HNSWC_EINVAL,
			       "max_elements %zu is not in [1, %zu]",
			       max_elements, HNSWC_MAX_ELEMENTS);
	if (m < HNSWC_MIN_M || m > HNSWC_MAX_M)
		return err_set(err, HNSWC_EINVAL, "M %zu is not in [%d, %d]", m,
			       HNSWC_MIN_M, HNSWC_MAX_M);
	if (ef_construction < 1)
		return err_set(err, HNSWC_EINVAL, "ef_construction is 0");
	return guarded(err, "hnswc_create", [&]() -> int {
		std::unique_ptr<hnswc_index> x(new hnswc_index());
		make_space(x.get(), space, quant, dim, max_elements);
		x->trained.store(quant == HNSWC_QUANT_NONE);
		x->seed = seed;
		x->h.reset(new Hnsw(x->sp.get(), max_elements, m,
				    ef_construction, (size_t)seed));
		*out = x.release();
		return 0;
	});
}

extern "C" void hnswc_free(hnswc_index *idx)
{
	delete idx;
}

extern "C" int hnswc_train(hnswc_index *idx, const float *vecs, size_t n,
			   hnswc_error *err)
{
	if (!idx || !vecs || !n)
		return err_set(err, HNSWC_EINVAL, "hnswc_train: %s",
			       !idx    ? "index is NULL"
			       : !vecs ? "vecs is NULL"
				       : "no vectors (n is 0)");
	if (idx->quant == HNSWC_QUANT_NONE) {
		err_clear(err);
		return 0;
	}
	size_t dim = idx->dim;
	if (n > SIZE_MAX / dim || !all_finite(vecs, n * dim))
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_train: a training vector has a NaN or "
			       "infinite component");
	return guarded(err, "hnswc_train", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		size_t have = element_count(idx->h.get());
		if (have != 0)
			return err_set(err, HNSWC_EINVAL,
				       "hnswc_train: the index already holds "
				       "%zu elements: the quantiser is set "
				       "before the first add (build a new "
				       "index to retrain)",
				       have);
		std::vector<float> mn(vecs, vecs + dim), mx(vecs, vecs + dim);
		for (size_t j = 1; j < n; j++)
			for (size_t i = 0; i < dim; i++) {
				float v = vecs[j * dim + i];
				mn[i] = std::min(mn[i], v);
				mx[i] = std::max(mx[i], v);
			}
		WrLock l(&idx->rw); /* searches read lo/scale */
		for (size_t i = 0; i < dim; i++)
			idx->sp->set_range(i, mn[i], mx[i]);
		idx->trained.store(true);
		return 0;
	});
}

static int settle(const hnswc_index *idx, hnswc_error *err);

extern "C" int hnswc_retrain(hnswc_index *idx, hnswc_error *err)
{
	if (!idx)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_retrain: index is NULL");
	if (int rc = settle(idx, err))
		return rc;
	if (idx->quant == HNSWC_QUANT_NONE) {
		err_clear(err);
		return 0;
	}
	return guarded(err, "hnswc_retrain", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		Hnsw *h = idx->h.get();
		size_t count = element_count(h), dim = idx->dim;
		if (count == 0)
			return err_set(err, HNSWC_EINVAL,
				       "hnswc_retrain: the index is empty: "
				       "use hnswc_train()");
		const float *raw = idx->raw;
		std::vector<float> mn(raw, raw + dim), mx(raw, raw + dim);
		for (size_t j = 1; j < count; j++)
			for (size_t i = 0; i < dim; i++) {
				float v = raw[j * dim + i];
				mn[i] = std::min(mn[i], v);
				mx[i] = std::max(mx[i], v);
			}
		/* Searches read the codes and the quantiser: exclusive. */
		WrLock l(&idx->rw);
		for (size_t i = 0; i < dim; i++)
			idx->sp->set_range(i, mn[i], mx[i]);
		for (size_t j = 0; j < count; j++)
			idx->sp->encode(
				raw + j * dim,
				(uint8_t *)h->getDataByInternalId((tableint)j));
		idx->trained.store(true);
		return 0;
	});
}

extern "C" int hnswc_trained(const hnswc_index *idx)
{
	return idx ? (int)idx->trained.load() : HNSWC_EINVAL;
}

extern "C" int hnswc_quant(const hnswc_index *idx)
{
	return idx ? idx->quant : HNSWC_EINVAL;
}

extern "C" int hnswc_set_rerank(hnswc_index *idx, size_t factor)
{
	if (!idx || factor < 1 || factor > 1000)
		return HNSWC_EINVAL;
	idx->rerank.store(factor, std::memory_order_relaxed);
	return 0;
}

/* A search's turn without element locks (see hnswc_index::bare). */
struct BareGuard {
	const hnswc_index *idx;
	bool bare;
	explicit BareGuard(const hnswc_index *x) : idx(x), bare(false)
	{
		idx->bare.fetch_add(1);
		if (idx->inserting.load() == 0)
			bare = true;
		else
			idx->bare.fetch_sub(1);
	}
	~BareGuard()
	{
		if (bare)
			idx->bare.fetch_sub(1);
	}
};

/* An insert's turn: no search runs without element locks meanwhile. */
struct InsertGuard {
	const hnswc_index *idx;
	explicit InsertGuard(const hnswc_index *x) : idx(x)
	{
		idx->inserting.fetch_add(1);
		while (idx->bare.load() != 0)
			sched_yield();
	}
	~InsertGuard()
	{
		idx->inserting.fetch_sub(1);
	}
};

/* ---- deferred checks ---- */

static int check_list(const char *name, hnswc_error *err, const Hnsw *h,
		      size_t i, int level, size_t count);

/*
 * The checks HNSWC_LOAD_DEFER left out, and the label map, for an index
 * loaded with it: the bottom layer's lists, labels (unique), deleted marks.
 * Holds wmu (no writer runs) and rw shared while it reads, so searches go
 * on; takes rw exclusively only to install the map.  `stop` (may be NULL)
 * is asked every 4096 elements; when it says so the checks end unfinished
 * (1 is returned, the index stays deferred).  A failed check leaves the
 * index broken: it still answers searches, refuses writes, and every later
 * call returns the same HNSWC_ECORRUPT.
 */
static int verify_impl(hnswc_index *idx, int (*stop)(void *), void *ctx,
		       hnswc_error *err)
{
	std::lock_guard<std::mutex> w(idx->wmu);
	if (!idx->deferred.load(std::memory_order_acquire))
		return idx->bad.empty() ? 0
					: err_set(err, HNSWC_ECORRUPT, "%s",
						  idx->bad.c_str());
	Hnsw *h = idx->h.get();
	size_t count = element_count(h), deleted = 0;
	std::unordered_map<labeltype, tableint> map;
	int rc = 0;
	{
		RdLock l(&idx->rw);
		map.reserve(count);
		for (size_t i = 0; i < count && !rc; i++) {
			if (stop && !(i & 4095) && stop(ctx))
				return 1;
			for (int lev = 0; lev <= h->element_levels_[i] && !rc;
			     lev++)
				rc = check_list("mapped index", err, h, i, lev,
						count);
			if (rc)
				break;
			labeltype label = h->getExternalLabel((tableint)i);
			if (!map.emplace(label, (tableint)i).second)
				rc = err_set(err, HNSWC_ECORRUPT,
					     "mapped index: corrupt index: "
					     "label %llu appears twice",
					     (unsigned long long)label);
			else if (h->isMarkedDeleted((tableint)i))
				deleted++;
		}
	}
	if (rc) {
		idx->bad = err ? err->msg : "mapped index: corrupt index";
		idx->broken.store(true);
		idx->deferred.store(false, std::memory_order_release);
		return rc;
	}
	WrLock l(&idx->rw);
	h->label_lookup_.swap(map);
	h->num_deleted_ = deleted;
	idx->deferred.store(false, std::memory_order_release);
	return 0;
}

/* Run the deferred checks first if the index still waits for them. */
static int settle(const hnswc_index *idx, hnswc_error *err)
{
	if (!idx->deferred.load(std::memory_order_acquire) && idx->bad.empty())
		return 0;
	return guarded(err, "hnswc_verify", [&]() -> int {
		return verify_impl(const_cast<hnswc_index *>(idx), nullptr,
				   nullptr, err);
	});
}

extern "C" int hnswc_verify(hnswc_index *idx, int (*stop)(void *), void *ctx,
			    hnswc_error *err)
{
	if (!idx)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_verify: index is NULL");
	return guarded(err, "hnswc_verify", [&]() -> int {
		return verify_impl(idx, stop, ctx, err);
	});
}

extern "C" int hnswc_deferred(const hnswc_index *idx)
{
	return idx && idx->deferred.load(std::memory_order_acquire);
}

/* ---- add / delete ---- */

/*
 * The level of a new element: hnswlib's distribution, floor(-ln(u) x
 * mult_) with u uniform in (0, 1), but u drawn from the index's seed and
 * the label (splitmix64) instead of hnswlib's shared level generator,
 * which addPoint() advances without a lock (concurrent inserts would race
 * on it).  A label gets the same level whatever the thread count and the
 * order of the inserts.  u >= 2^-54, so the level stays below 40 x mult_.
 */
static int draw_level(const hnswc_index *idx, uint64_t label)
{
	uint64_t z = idx->seed + (label + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	double u = ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
	return (int)(-log(u) * idx->h->mult_);
}

/*
 * Insert a label that is not in the index: hnswlib's addPoint() for a new
 * label, over the same public members and its searchBaseLayer() and
 * mutuallyConnectNewElement(), with three differences: the level comes
 * from draw_level(); the upper-layer lists are allocated with LIST_SLACK
 * spare bytes and before a slot is taken, so running out
 * of memory there changes nothing; and for SQ8 the float row is written
 * before any link makes the element reachable.  `data` is what the graph
 * stores (the vector or its codes), `vec` the float vector.
 *
 * Several threads run this at once for distinct labels.  The caller holds
 * wmu (no other writer) and rw shared, and checked that the label is absent
 * and that the capacity has room.  Locks, in order: the label map's guard
 * (take a slot and map the label; released at once), `global` (kept to the
 * end when the element raises the top level, as in hnswlib), then the new
 * element's own link-list lock, held until it is fully linked: whoever
 * reaches it through a fresh link waits for it.  hnswlib's functions then
 * take the other elements' locks one at a time.  No thread holds an
 * element's lock while it waits for `global`.
 *
 * *reserved becomes true once the slot is taken: an exception after that
 * leaves a half-made element (the caller marks the index broken).
 */
static void insert_new(hnswc_index *idx, const void *data, const float *vec,
		       labeltype label, bool *reserved)
{
	Hnsw *h = idx->h.get();
	int level = draw_level(idx, label);
	char *ll = nullptr;
	tableint cur = 0;

	if (level > 0) {
		ll = (char *)calloc(1,
				    h->size_links_per_element_ * (size_t)level +
					    LIST_SLACK);
		if (!ll)
			throw std::runtime_error(
				"Not enough memory: cannot allocate the "
				"upper-layer links of a new element");
	}
	try {
		std::lock_guard<std::mutex> g(h->cur_element_count_guard_);
		if (h->cur_element_count >= h->max_elements_)
			throw std::runtime_error("index full");
		cur = (tableint)h->cur_element_count;
		h->label_lookup_.emplace(label, cur);
		h->cur_element_count++;
	} catch (...) {
		free(ll);
		throw;
	}
	*reserved = true;
	/* Nobody reads slot `cur` before a link leads to it, and those
	 * links are written after this; owned by the index from here on
	 * (its destructor frees the lists of levels > 0). */
	h->element_levels_[cur] = level;
	h->linkLists_[cur] = ll;

	std::unique_lock<std::mutex> top(h->global);
	int maxlevel = h->maxlevel_;
	tableint ep = h->enterpoint_node_;
	if (level <= maxlevel)
		top.unlock();
	std::lock_guard<std::mutex> own(h->link_list_locks_[cur]);

	memset(h->data_level0_memory_ + cur * h->size_data_per_element_ +
		       h->offsetLevel0_,
	       0, h->size_data_per_element_);
	memcpy(h->getExternalLabeLp(cur), &label, sizeof(label));
	memcpy(h->getDataByInternalId(cur), data, h->data_size_);
	if (idx->raw)
		memcpy(idx->raw + (size_t)cur * idx->dim, vec,
		       idx->dim * sizeof(float));

	if (ep != (tableint)-1) {
		auto dist = [&](tableint id) {
			return h->fstdistfunc_(data, h->getDataByInternalId(id),
					       h->dist_func_param_);
		};
		tableint obj = ep;
		/* Greedy descent through the layers above the new one. */
		if (level < maxlevel) {
			float curd = dist(obj);
			for (int lev = maxlevel; lev > level; lev--) {
				bool changed = true;
				while (changed) {
					changed = false;
					std::lock_guard<std::mutex> g(
						h->link_list_locks_[obj]);
					linklistsizeint *l =
						h->get_linklist(obj, lev);
					size_t n = h->getListCount(l);
					const tableint *ids =
						(const tableint *)(l + 1);
					for (size_t i = 0; i < n; i++) {
						tableint c = ids[i];
						if (c >= h->max_elements_)
							throw std::
								runtime_error(
									"neighb"
									"our "
									"id "
									"out "
									"of "
									"rang"
									"e");
						float d = dist(c);
						if (d < curd) {
							curd = d;
							obj = c;
							changed = true;
						}
					}
				}
			}
		}
		bool ep_deleted = h->isMarkedDeleted(ep);
		for (int lev = std::min(level, maxlevel); lev >= 0; lev--) {
			auto cands = h->searchBaseLayer(obj, data, lev);
			if (ep_deleted) {
				cands.emplace(dist(ep), ep);
				if (cands.size() > h->ef_construction_)
					cands.pop();
			}
			obj = h->mutuallyConnectNewElement(data, cur, cands,
							   lev, false);
		}
	}
	if (level > maxlevel) {
		/* The first element, or a new top level (`global` held). */
		h->enterpoint_node_ = cur;
		h->maxlevel_ = level;
	}
}

namespace
{

/* A batch's new labels, shared by the threads that insert them. */
struct Batch {
	hnswc_index *idx;
	const float *const *vecs;
	const uint64_t *labels;
	const size_t *todo; /* batch positions of the new labels */
	size_t ntodo;
	unsigned char *done; /* may be NULL */
	std::atomic<size_t> next{ 0 };
	std::atomic<bool> stop{ false };
	std::mutex emu; /* the first failure, below */
	int code = 0;
	char msg[HNSWC_ERROR_MSG_MAX] = "";

	void fail(int c, size_t at, const char *m)
	{
		std::lock_guard<std::mutex> g(emu);
		stop.store(true);
		if (code)
			return;
		code = c;
		snprintf(msg, sizeof(msg), "label %llu: %s",
			 (unsigned long long)labels[at], m);
		if (done)
			done[at] = HNSWC_FAILED;
	}
};

/* Take the next new label until none is left or one failed. */
void batch_worker(Batch *b) noexcept
{
	hnswc_index *idx = b->idx;
	std::vector<uint8_t> code;

	while (!b->stop.load(std::memory_order_relaxed)) {
		size_t i = b->next.fetch_add(1);
		if (i >= b->ntodo)
			return;
		size_t at = b->todo[i];
		bool reserved = false;
		try {
			const void *data = b->vecs[at];
			if (idx->quant == HNSWC_QUANT_SQ8) {
				code.resize(idx->dim);
				idx->sp->encode(b->vecs[at], code.data());
				data = code.data();
			}
			insert_new(idx, data, b->vecs[at], b->labels[at],
				   &reserved);
			if (b->done)
				b->done[at] = HNSWC_DONE;
			continue;
		} catch (const std::bad_alloc &) {
			b->fail(HNSWC_ENOMEM, at, "out of memory");
		} catch (const std::exception &e) {
			const char *m = e.what();
			b->fail(strncmp(m, "Not enough memory", 17) == 0
					? HNSWC_ENOMEM
					: HNSWC_EINTERNAL,
				at, m);
		} catch (...) {
			b->fail(HNSWC_EINTERNAL, at, "unknown C++ exception");
		}
		if (reserved)
			idx->broken.store(true);
		return;
	}
}

} /* namespace */

/* Threads for a batch of `work` new labels: 0 = the online CPUs. */
static size_t batch_threads(size_t threads, size_t work)
{
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (size_t)n : 1;
	}
	if (threads > HNSWC_MAX_THREADS)
		threads = HNSWC_MAX_THREADS;
	return std::max((size_t)1, std::min(threads, work));
}

/*
 * hnswc_add() and hnswc_add_batch().  Existing labels first, one at a time
 * under the exclusive lock (hnswlib's update rewires links other searches
 * walk), then the new ones by up to `threads` threads under the shared
 * lock (insert_new).
 */
static int add_many(hnswc_index *idx, const float *const *vecs,
		    const uint64_t *labels, size_t n, size_t threads,
		    unsigned char *done, hnswc_error *err, const char *what)
{
	if (done)
		memset(done, 0, n);
	for (size_t i = 0; i < n; i++) {
		if (!vecs[i])
			return err_set(err, HNSWC_EINVAL,
				       "%s: the vector of label %llu (entry "
				       "%zu) is NULL",
				       what, (unsigned long long)labels[i], i);
		if (!all_finite(vecs[i], idx->dim))
			return err_set(err, HNSWC_EINVAL,
				       "%s: label %llu: the vector has a NaN "
				       "or infinite component",
				       what, (unsigned long long)labels[i]);
	}
	if (n == 0) {
		err_clear(err);
		return 0;
	}
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, what, [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		Hnsw *h = idx->h.get();
		if (idx->broken.load())
			return err_set(err, HNSWC_EINTERNAL,
				       "%s: the index was left inconsistent "
				       "by a failed insert; reload or rebuild "
				       "it",
				       what);
		if (!idx->trained.load())
			return err_set(err, HNSWC_EINVAL,
				       "%s: label %llu: an SQ8 index needs "
				       "hnswc_train() before its first add",
				       what, (unsigned long long)labels[0]);
		/* A label given twice counts once, with its last vector. */
		std::vector<size_t> fresh, old;
		std::unordered_map<uint64_t, size_t> last;
		if (n > 1) {
			last.reserve(n);
			for (size_t i = 0; i < n; i++)
				last[labels[i]] = i;
		}
		size_t count, cap = h->max_elements_;
		{
			std::lock_guard<std::mutex> g(
				h->cur_element_count_guard_);
			count = h->cur_element_count;
			for (size_t i = 0; i < n; i++) {
				if (n > 1 && last[labels[i]] != i)
					continue;
				if (h->label_lookup_.count(labels[i]))
					old.push_back(i);
				else
					fresh.push_back(i);
			}
		}
		if (fresh.size() > cap - count) {
			if (n == 1)
				return err_set(err, HNSWC_EFULL,
					       "%s: label %llu: index full "
					       "(%zu of %zu elements, deleted "
					       "included); resize it",
					       what,
					       (unsigned long long)labels[0],
					       count, cap);
			return err_set(err, HNSWC_EFULL,
				       "%s: %zu new labels do not fit: %zu "
				       "of %zu elements are used (deleted "
				       "included); resize to at least %zu",
				       what, fresh.size(), count, cap,
				       count + fresh.size());
		}
		std::vector<uint8_t> code;
		for (size_t i : old) {
			const void *data = vecs[i];
			if (idx->quant == HNSWC_QUANT_SQ8) {
				code.resize(idx->dim);
				idx->sp->encode(vecs[i], code.data());
				data = code.data();
			}
			/* Replace/undelete rewires existing links and
			 * rewrites the vector in place: exclusive. */
			if (done)
				done[i] = HNSWC_FAILED; /* if it throws */
			WrLock l(&idx->rw);
			tableint id;
			if (idx->raw && lookup(h, labels[i], &id))
				memcpy(idx->raw + (size_t)id * idx->dim,
				       vecs[i], idx->dim * sizeof(float));
			h->addPoint(data, labels[i]);
			if (done)
				done[i] = HNSWC_DONE;
		}
		if (done && n > 1)
			for (size_t i = 0; i < n; i++)
				if (last[labels[i]] != i)
					done[i] = HNSWC_DONE;
		if (fresh.empty())
			return 0;

		Batch b;
		b.idx = idx;
		b.vecs = vecs;
		b.labels = labels;
		b.todo = fresh.data();
		b.ntodo = fresh.size();
		b.done = done;
		size_t nt = batch_threads(threads, fresh.size());
		std::vector<std::thread> pool;
		{
			RdLock l(&idx->rw);
			InsertGuard ig(idx);
			try {
				pool.reserve(nt - 1);
				for (size_t t = 1; t < nt; t++)
					pool.emplace_back(batch_worker, &b);
			} catch (...) {
				/* fewer threads: those started run */
			}
			batch_worker(&b);
			for (std::thread &t : pool)
				t.join();
		}
		if (b.code)
			return err_set(err, b.code, "%s: %s", what, b.msg);
		return 0;
	});
}

extern "C" int hnswc_add(hnswc_index *idx, const float *vec, uint64_t label,
			 hnswc_error *err)
{
	if (!idx || !vec)
		return err_set(err, HNSWC_EINVAL, "hnswc_add: %s is NULL",
			       idx ? "vec" : "index");
	return add_many(idx, &vec, &label, 1, 1, nullptr, err, "hnswc_add");
}

extern "C" int hnswc_add_batch(hnswc_index *idx, const float *const *vecs,
			       const uint64_t *labels, size_t n, size_t threads,
			       unsigned char *done, hnswc_error *err)
{
	if (!idx || (n && (!vecs || !labels)))
		return err_set(err, HNSWC_EINVAL, "hnswc_add_batch: %s is NULL",
			       !idx    ? "index"
			       : !vecs ? "vecs"
				       : "labels");
	return add_many(idx, vecs, labels, n, threads, done, err,
			"hnswc_add_batch");
}

extern "C" int hnswc_mark_deleted(hnswc_index *idx, uint64_t label,
				  hnswc_error *err)
{
	if (!idx)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_mark_deleted: index is NULL");
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, "hnswc_mark_deleted", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		Hnsw *h = idx->h.get();
		tableint id;
		if (!lookup(h, label, &id))
			return err_set(err, HNSWC_ENOTFOUND,
				       "hnswc_mark_deleted: label %llu is not "
				       "in the index",
				       (unsigned long long)label);
		WrLock l(&idx->rw);
		if (!h->isMarkedDeleted(id))
			h->markDeletedInternal(id);
		return 0;
	});
}

extern "C" int hnswc_contains(const hnswc_index *idx, uint64_t label)
{
	if (!idx)
		return HNSWC_EINVAL;
	if (int rc = settle(idx, nullptr))
		return rc < 0 ? rc : HNSWC_EINTERNAL;
	return guarded(nullptr, "hnswc_contains", [&]() -> int {
		RdLock l(&idx->rw);
		tableint id;
		if (!lookup(idx->h.get(), label, &id))
			return HNSWC_ENOTFOUND;
		return idx->h->isMarkedDeleted(id) ? 0 : 1;
	});
}

extern "C" int hnswc_get_vector(const hnswc_index *idx, uint64_t label,
				float *out, hnswc_error *err)
{
	if (!idx || !out)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_get_vector: %s is NULL",
			       idx ? "out" : "index");
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, "hnswc_get_vector", [&]() -> int {
		RdLock l(&idx->rw);
		tableint id;
		if (!lookup(idx->h.get(), label, &id))
			return err_set(err, HNSWC_ENOTFOUND,
				       "hnswc_get_vector: label %llu is not in "
				       "the index",
				       (unsigned long long)label);
		memcpy(out,
		       idx->raw ? (const void *)(idx->raw +
						 (size_t)id * idx->dim)
				: (const void *)idx->h->getDataByInternalId(id),
		       idx->dim * sizeof(float));
		return 0;
	});
}

/* ---- search ---- */

extern "C" int hnswc_set_ef(hnswc_index *idx, size_t ef)
{
	if (!idx || ef == 0)
		return HNSWC_EINVAL;
	idx->ef.store(ef, std::memory_order_relaxed);
	return 0;
}

extern "C" size_t hnswc_get_ef(const hnswc_index *idx)
{
	return idx ? idx->ef.load(std::memory_order_relaxed) : 0;
}

namespace
{

struct Cand {
	float d;
	tableint id;
};

/*
 * Binary heap of Cand; Above(a, b) is true when a belongs above b.  Small
 * and inlinable (std::push_heap/pop_heap were not inlined and cost ~10%),
 * with replace_top() for the full result heap.
 */
template <typename Above> class Heap
{
	std::vector<Cand> v_;

	void sift_down(size_t i, Cand c)
	{
		size_t n = v_.size();
		for (;;) {
			size_t l = 2 * i + 1;
			if (l >= n)
				break;
			size_t b = l + 1 < n && Above()(v_[l + 1], v_[l])
					   ? l + 1
					   : l;
			if (!Above()(v_[b], c))
				break;
			v_[i] = v_[b];
			i = b;
		}
		v_[i] = c;
	}

public:
	void clear()
	{
		v_.clear();
	}
	void reserve(size_t n)
	{
		v_.reserve(n);
	}
	bool empty() const
	{
		return v_.empty();
	}
	size_t size() const
	{
		return v_.size();
	}
	const Cand &top() const
	{
		return v_[0];
	}
	void push(Cand c)
	{
		size_t i = v_.size();
		v_.push_back(c);
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (!Above()(c, v_[p]))
				break;
			v_[i] = v_[p];
			i = p;
		}
		v_[i] = c;
	}
	void pop()
	{
		Cand c = v_.back();
		v_.pop_back();
		if (!v_.empty())
			sift_down(0, c);
	}
	void replace_top(Cand c)
	{
		sift_down(0, c);
	}
};

struct Closer {
	bool operator()(const Cand &a, const Cand &b) const
	{
		return a.d < b.d;
	}
};
struct Farther {
	bool operator()(const Cand &a, const Cand &b) const
	{
		return a.d > b.d;
	}
};

/*
 * Per-thread search buffers, kept between searches to save allocations.
 * A filter callback may search another index from inside a search: the
 * nested search then uses buffers of its own (`busy`).
 */
struct Scratch {
	Heap<Closer> near; /* candidates to expand, closest on top */
	Heap<Farther> far; /* best kept results, farthest on top */
	std::vector<tableint> buf;
	std::vector<Cand> out; /* results, nearest first */
	std::vector<float> q;  /* SQ8: the query prepared for the codes */
	bool busy = false;
};

/* Returns a visited list to hnswlib's pool, also when unwinding. */
class VisitedGuard
{
	hnswlib::VisitedListPool *pool_;

public:
	hnswlib::VisitedList *vl;
	explicit VisitedGuard(hnswlib::VisitedListPool *p)
	    : pool_(p), vl(p->getFreeVisitedList())
	{
	}
	~VisitedGuard()
	{
		pool_->releaseVisitedList(vl);
	}
	VisitedGuard(const VisitedGuard &) = delete;
	VisitedGuard &operator=(const VisitedGuard &) = delete;
};

class BusyGuard
{
	bool &b_;

public:
	explicit BusyGuard(bool &b) : b_(b)
	{
		b_ = true;
	}
	~BusyGuard()
	{
		b_ = false;
	}
};

class ActiveGuard
{
	std::atomic<size_t> &a_;

public:
	ActiveGuard(std::atomic<size_t> &a, std::atomic<size_t> &peak) : a_(a)
	{
		size_t n = a_.fetch_add(1, std::memory_order_relaxed) + 1;
		size_t p = peak.load(std::memory_order_relaxed);
		while (n > p && !peak.compare_exchange_weak(
					p, n, std::memory_order_relaxed))
			;
	}
	~ActiveGuard()
	{
		a_.fetch_sub(1, std::memory_order_relaxed);
	}
};

} /* namespace */

/*
 * Copy the neighbour list of `id` at `level` into buf (room for maxM0_ ids)
 * under the element's lock: addPoint() may be rewriting it.  The caller
 * still checks each id against the capacity (cheap insurance).
 */
static size_t copy_links(const Hnsw *h, tableint id, int level, tableint *buf,
			 bool bare)
{
	Hnsw *m = const_cast<Hnsw *>(h);
	size_t n, cap = level ? h->maxM_ : h->maxM0_;
	std::unique_lock<std::mutex> g(m->link_list_locks_[id],
				       std::defer_lock);
	if (!bare)
		g.lock();
	linklistsizeint *ll = h->get_linklist_at_level(id, level);
	n = h->getListCount(ll);
	if (n > cap)
		n = cap;
	memcpy(buf, ll + 1, n * sizeof(tableint));
	return n;
}

/*
 * Best `k` (at most) of the graph for query q under `dist` (with `param`)
 * into sc.out, nearest first; returns how many.  Caller holds rw shared.
 */
static size_t do_search(const hnswc_index *idx, Scratch &sc,
			hnswlib::DISTFUNC<float> dist, const void *q,
			const void *param, size_t k, size_t ef,
			hnswc_filter_fn filter, void *ctx)
{
	Hnsw *h = idx->h.get();
	BareGuard bg(idx);
	tableint ep;
	int maxlevel;
	{
		/* addPoint() holds `global` while it raises the top level. */
		std::lock_guard<std::mutex> g(h->global);
		ep = h->enterpoint_node_;
		maxlevel = h->maxlevel_;
	}
	if (ep == (tableint)-1 || maxlevel < 0)
		return 0;

	const size_t max = h->max_elements_; /* stable: rw is held */
	/* Deleted marks change only under the exclusive lock; a deferred index
	 * has not counted them yet. */
	const bool deletions = h->num_deleted_ != 0 ||
			       idx->deferred.load(std::memory_order_acquire);
	sc.buf.resize(std::max(h->maxM0_, h->maxM_));
	tableint *buf = sc.buf.data();

	/* Greedy descent through the upper layers (as hnswlib's searchKnn). */
	tableint cur = ep;
	float curd = dist(q, h->getDataByInternalId(cur), param);
	for (int level = maxlevel; level > 0; level--) {
		bool changed = true;
		while (changed) {
			changed = false;
			size_t n = copy_links(h, cur, level, buf, bg.bare);
			for (size_t i = 0; i < n; i++) {
				tableint c = buf[i];
				if (c >= max || h->element_levels_[c] < level)
					continue;
				float d = dist(q, h->getDataByInternalId(c),
					       param);
				if (d < curd) {
					curd = d;
					cur = c;
					changed = true;
				}
			}
		}
	}

	/*
	 * Best-first search of the bottom layer with a candidate list of ef.
	 * Deleted and filtered-out elements are walked through but not kept;
	 * with them the search goes on until ef kept results are found or
	 * the reachable graph is exhausted (hnswlib 0.7+'s semantics).
	 */
	const size_t vbytes = h->data_size_;
	VisitedGuard vg(h->visited_list_pool_);
	hnswlib::vl_type *visited = vg.vl->mass;
	hnswlib::vl_type tag = vg.vl->curV;
	Heap<Closer> &near = sc.near;
	Heap<Farther> &far = sc.far;
	near.clear();
	far.clear();
	auto keep = [&](tableint id) -> bool {
		if (deletions && h->isMarkedDeleted(id))
			return false;
		return !filter || filter(h->getExternalLabel(id), ctx);
	};

	near.push(Cand{ curd, cur });
	if (keep(cur))
		far.push(Cand{ curd, cur });
	visited[cur] = tag;
	while (!near.empty()) {
		Cand c = near.top();
		if (far.size() >= ef && c.d > far.top().d)
			break;
		near.pop();

		/* The unvisited neighbours first (their visited marks
		 * prefetched), then their distances with each vector
		 * prefetched whole two ahead: a 384-float vector is 24
		 * cache lines, more than one prefetch covers. */
		size_t n = copy_links(h, c.id, 0, buf, bg.bare), m = 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i] < max)
				__builtin_prefetch(visited + buf[i]);
		for (size_t i = 0; i < n; i++) {
			tableint nb = buf[i];
			if (nb >= max || visited[nb] == tag)
				continue;
			visited[nb] = tag;
			buf[m++] = nb;
		}
		auto fetch = [&](tableint id) {
			const char *p = h->getDataByInternalId(id);
			for (size_t o = 0; o < vbytes; o += 64)
				__builtin_prefetch(p + o);
		};
		if (m)
			fetch(buf[0]);
		if (m > 1)
			fetch(buf[1]);
		for (size_t i = 0; i < m; i++) {
			tableint nb = buf[i];
			if (i + 2 < m)
				fetch(buf[i + 2]);
			float d = dist(q, h->getDataByInternalId(nb), param);
			bool full = far.size() >= ef;
			if (full && !(d < far.top().d))
				continue;
			near.push(Cand{ d, nb });
			if (!keep(nb))
				continue;
			if (full)
				far.replace_top(Cand{ d, nb });
			else
				far.push(Cand{ d, nb });
		}
	}

	while (far.size() > k)
		far.pop();
	size_t n = far.size();
	sc.out.resize(n);
	for (size_t i = n; i-- > 0;) {
		sc.out[i] = far.top();
		far.pop();
	}
	return n;
}

/*
 * SQ8: search the codes for rerank x k candidates with the query prepared
 * for the asymmetric kernels, then re-score them on the float vectors and
 * keep the best k in sc.out.  Caller holds rw shared.
 */
static size_t search_sq8(const hnswc_index *idx, Scratch &sc, const float *q,
			 size_t k, size_t ef, hnswc_filter_fn filter, void *ctx)
{
	const KernelSpace *sp = idx->sp.get();
	size_t dim = idx->dim;
	size_t kk = k * idx->rerank.load(std::memory_order_relaxed);
	struct hnswc_sq8_param p = sp->sym;
	hnswlib::DISTFUNC<float> dist;

	sc.q.resize(dim);
	if (idx->space == HNSWC_L2) {
		for (size_t i = 0; i < dim; i++)
			sc.q[i] = q[i] - sp->lo[i];
		dist = sp->k->sq8_l2;
	} else {
		double base = 0;
		for (size_t i = 0; i < dim; i++) {
			sc.q[i] = q[i] * sp->scale[i];
			base += (double)q[i] * sp->lo[i];
		}
		p.base = (float)base;
		dist = sp->k->sq8_ip;
	}
	size_t n = do_search(idx, sc, dist, sc.q.data(), &p, kk,
			     std::max(ef, kk), filter, ctx);
	hnswlib::DISTFUNC<float> exact = sp->float_dist();
	for (size_t i = 0; i < n; i++)
		sc.out[i].d = exact(q, idx->raw + (size_t)sc.out[i].id * dim,
				    &sp->dim);
	size_t m = std::min(n, k);
	std::partial_sort(sc.out.begin(), sc.out.begin() + (ptrdiff_t)m,
			  sc.out.begin() + (ptrdiff_t)n,
			  [](const Cand &a, const Cand &b) {
				  return a.d < b.d ||
					 (a.d == b.d && a.id < b.id);
			  });
	return m;
}

extern "C" int hnswc_search(const hnswc_index *idx, const float *query,
			    size_t k, size_t ef, hnswc_filter_fn filter,
			    void *ctx, uint64_t *labels, float *distances,
			    hnswc_error *err)
{
	if (!idx || !query || (k && !labels))
		return err_set(err, HNSWC_EINVAL, "hnswc_search: %s is NULL",
			       !idx	? "index"
			       : !query ? "query"
					: "labels");
	if (k > (size_t)INT32_MAX)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_search: k %zu is too large", k);
	if (!all_finite(query, idx->dim))
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_search: the query has a NaN or infinite "
			       "component");
	if (k == 0) {
		err_clear(err);
		return 0;
	}
	if (ef == 0)
		ef = idx->ef.load(std::memory_order_relaxed);
	ef = std::max(ef, k);
	return guarded(err, "hnswc_search", [&]() -> int {
		static thread_local Scratch tls;
		std::unique_ptr<Scratch> own;
		Scratch *sc = &tls;
		if (tls.busy) {
			own.reset(new Scratch());
			sc = own.get();
		}
		BusyGuard b(sc->busy);
		RdLock l(&idx->rw);
		ActiveGuard a(idx->active, idx->peak);
		const Hnsw *h = idx->h.get();
		size_t n;
		if (idx->quant == HNSWC_QUANT_SQ8)
			n = search_sq8(idx, *sc, query, k, ef, filter, ctx);
		else
			n = do_search(idx, *sc, h->fstdistfunc_, query,
				      h->dist_func_param_, k, ef, filter, ctx);
		for (size_t i = 0; i < n; i++) {
			labels[i] = h->getExternalLabel(sc->out[i].id);
			if (distances)
				distances[i] = sc->out[i].d;
		}
		return (int)n;
	});
}

/*
 * Exact distances to listed labels.  The labels are resolved a chunk at a
 * time under the label map's lock, then scored with each vector prefetched
 * two ahead.  Caller holds rw shared.
 */
extern "C" int hnswc_distances(const hnswc_index *idx, const float *query,
			       const uint64_t *labels, size_t n,
			       float *distances, hnswc_error *err)
{
	if (!idx || !query || (n && (!labels || !distances)))
		return err_set(err, HNSWC_EINVAL, "hnswc_distances: %s is NULL",
			       !idx	 ? "index"
			       : !query	 ? "query"
			       : !labels ? "labels"
					 : "distances");
	if (n > (size_t)INT32_MAX)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_distances: %zu labels are too many", n);
	if (int rc = settle(idx, err))
		return rc;
	if (!all_finite(query, idx->dim))
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_distances: the query has a NaN or "
			       "infinite component");
	return guarded(err, "hnswc_distances", [&]() -> int {
		enum { CHUNK = 256 };
		RdLock l(&idx->rw);
		Hnsw *h = idx->h.get();
		const KernelSpace *sp = idx->sp.get();
		const bool sq8 = idx->quant == HNSWC_QUANT_SQ8;
		hnswlib::DISTFUNC<float> dist =
			sq8 ? sp->float_dist() : h->fstdistfunc_;
		const void *param =
			sq8 ? (const void *)&sp->dim : h->dist_func_param_;
		const bool deletions = h->num_deleted_ != 0;
		tableint ids[CHUNK];
		size_t found = 0;
		auto vec = [&](tableint id) -> const char * {
			return sq8 ? (const char *)(idx->raw +
						    (size_t)id * idx->dim)
				   : h->getDataByInternalId(id);
		};
		auto fetch = [&](tableint id) {
			const char *p = vec(id);
			size_t bytes = idx->dim * sizeof(float);
			for (size_t o = 0; o < bytes; o += 64)
				__builtin_prefetch(p + o);
		};
		for (size_t at = 0; at < n; at += CHUNK) {
			size_t m = std::min((size_t)CHUNK, n - at);
			{
				std::lock_guard<std::mutex> g(
					h->cur_element_count_guard_);
				for (size_t i = 0; i < m; i++) {
					auto it = h->label_lookup_.find(
						labels[at + i]);
					ids[i] = it == h->label_lookup_.end()
							 ? (tableint)-1
							 : it->second;
				}
			}
			for (size_t i = 0; i < m; i++)
				if (ids[i] != (tableint)-1 && deletions &&
				    h->isMarkedDeleted(ids[i]))
					ids[i] = (tableint)-1;
			for (size_t i = 0; i < 2 && i < m; i++)
				if (ids[i] != (tableint)-1)
					fetch(ids[i]);
			for (size_t i = 0; i < m; i++) {
				if (i + 2 < m && ids[i + 2] != (tableint)-1)
					fetch(ids[i + 2]);
				if (ids[i] == (tableint)-1) {
					distances[at + i] = HUGE_VALF;
					continue;
				}
				distances[at + i] =
					dist(query, vec(ids[i]), param);
				found++;
			}
		}
		return (int)found;
	});
}

/* ---- resize ---- */

/*
 * hnswlib's resizeIndex() deletes the visited-list pool before allocating
 * the new one (a failed allocation leaves a dangling pointer) and can leave
 * the index half-resized.  This version allocates everything first and
 * commits with operations that cannot fail.  Caller holds wmu and rw
 * exclusively.
 */
static void resize_index(hnswc_index *idx, Hnsw *h, size_t new_max)
{
	size_t count = h->cur_element_count;
	size_t old_max = h->max_elements_;
	size_t sdpe = h->size_data_per_element_;

	std::unique_ptr<hnswlib::VisitedListPool> pool(
		new hnswlib::VisitedListPool(1, (int)new_max));
	std::vector<int> levels(new_max, 0);
	std::copy(h->element_levels_.begin(),
		  h->element_levels_.begin() + count, levels.begin());
	std::vector<std::mutex> locks(new_max);

	if (idx->l0map && new_max * sdpe > idx->l0len) {
		/* A mapped bottom layer moves to memory of its own. */
		char *l0 = (char *)malloc(new_max * sdpe);
		if (!l0)
			throw std::runtime_error(
				"Not enough memory: resize failed to grow the "
				"bottom layer");
		memcpy(l0, h->data_level0_memory_, count * sdpe);
		char **ll = (char **)realloc(h->linkLists_,
					     new_max * sizeof(void *));
		if (!ll) {
			free(l0);
			throw std::runtime_error(
				"Not enough memory: resize failed to grow the "
				"upper-layer table");
		}
		h->linkLists_ = ll;
		h->data_level0_memory_ = l0;
		munmap(idx->l0map, idx->l0len);
		idx->l0map = nullptr;
		idx->l0len = idx->l0file = 0;
	} else if (idx->l0map) {
		/* The mapping has room: only the tables change. */
		char **ll = (char **)realloc(h->linkLists_,
					     new_max * sizeof(void *));
		if (!ll && new_max > old_max)
			throw std::runtime_error(
				"Not enough memory: resize failed to grow the "
				"upper-layer table");
		if (ll)
			h->linkLists_ = ll;
	} else if (new_max > old_max) {
		/* Growing: a failure leaves larger blocks and the old
		 * capacity, which is consistent. */
		char *l0 = (char *)realloc(h->data_level0_memory_,
					   new_max * h->size_data_per_element_);
		if (!l0)
			throw std::runtime_error(
				"Not enough memory: resize failed to grow the "
				"bottom layer");
		h->data_level0_memory_ = l0;
		char **ll = (char **)realloc(h->linkLists_,
					     new_max * sizeof(void *));
		if (!ll)
			throw std::runtime_error(
				"Not enough memory: resize failed to grow the "
				"upper-layer table");
		h->linkLists_ = ll;
	} else {
		/* Shrinking: if realloc fails the old, larger block stays. */
		char *l0 = (char *)realloc(h->data_level0_memory_,
					   new_max * h->size_data_per_element_);
		if (l0)
			h->data_level0_memory_ = l0;
		char **ll = (char **)realloc(h->linkLists_,
					     new_max * sizeof(void *));
		if (ll)
			h->linkLists_ = ll;
	}
	delete h->visited_list_pool_;
	h->visited_list_pool_ = pool.release();
	h->element_levels_.swap(levels);
	h->link_list_locks_.swap(locks);
	h->max_elements_ = new_max;
}

extern "C" int hnswc_resize(hnswc_index *idx, size_t new_max, hnswc_error *err)
{
	if (!idx)
		return err_set(err, HNSWC_EINVAL,
			       "hnswc_resize: index is NULL");
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, "hnswc_resize", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		Hnsw *h = idx->h.get();
		if (idx->broken.load())
			return err_set(err, HNSWC_EINTERNAL,
				       "hnswc_resize: the index was left "
				       "inconsistent by a failed insert; "
				       "reload or rebuild it");
		size_t count = element_count(h);
		if (new_max < std::max(count, (size_t)1) ||
		    new_max > HNSWC_MAX_ELEMENTS)
			return err_set(err, HNSWC_EINVAL,
				       "hnswc_resize: new capacity %zu is not "
				       "in [%zu, %zu] (elements stored: %zu)",
				       new_max, std::max(count, (size_t)1),
				       HNSWC_MAX_ELEMENTS, count);
		WrLock l(&idx->rw);
		if (new_max != h->max_elements_ && idx->raw) {
			float *r = (float *)realloc(
				idx->raw, new_max * idx->dim * sizeof(float));
			if (!r && new_max > h->max_elements_)
				throw std::bad_alloc();
			if (r)
				idx->raw = r;
		}
		if (new_max != h->max_elements_)
			resize_index(idx, h, new_max);
		return 0;
	});
}

/* ---- getters ---- */

extern "C" size_t hnswc_count(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	return quiet((size_t)0, [&]() { return element_count(idx->h.get()); });
}

extern "C" size_t hnswc_deleted_count(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	if (settle(idx, nullptr))
		return 0;
	return quiet((size_t)0, [&]() {
		RdLock l(&idx->rw);
		return idx->h->num_deleted_;
	});
}

extern "C" size_t hnswc_capacity(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	return quiet((size_t)0, [&]() {
		RdLock l(&idx->rw);
		return idx->h->max_elements_;
	});
}

extern "C" size_t hnswc_dim(const hnswc_index *idx)
{
	return idx ? idx->dim : 0;
}

extern "C" int hnswc_space(const hnswc_index *idx)
{
	return idx ? idx->space : HNSWC_EINVAL;
}

extern "C" size_t hnswc_memory_bytes(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	return quiet((size_t)0, [&]() {
		std::lock_guard<std::mutex> w(idx->wmu);
		const Hnsw *h = idx->h.get();
		size_t max = h->max_elements_, count = h->cur_element_count;
		size_t upper = 0;
		for (size_t i = 0; i < count; i++)
			if (h->element_levels_[i] > 0)
				upper += h->size_links_per_element_ *
						 h->element_levels_[i] +
					 LIST_SLACK;
		size_t lists = idx->peak.load() + 1; /* searches + a writer */
		size_t b = sizeof(*idx) + sizeof(*h);
		b += max * h->size_data_per_element_; /* vectors, layer 0 */
		b += max * sizeof(void *);	      /* upper-layer table */
		b += upper;
		b += max * sizeof(int);	       /* element levels */
		b += max * sizeof(std::mutex); /* per-element locks */
		b += h->link_list_update_locks_.size() * sizeof(std::mutex);
		b += lists * (max * sizeof(hnswlib::vl_type) +
			      sizeof(hnswlib::VisitedList));
		/* label map: buckets plus one ~32-byte node per element */
		b += h->label_lookup_.bucket_count() * sizeof(void *);
		b += h->label_lookup_.size() * 32;
		if (idx->raw) /* SQ8: float rows and the quantiser */
			b += max * idx->dim * sizeof(float) +
			     3 * idx->dim * sizeof(float);
		return b;
	});
}

/* ---- save ---- */

namespace
{

struct Sink {
	uint64_t n = 0;
	virtual bool put(const void *p, size_t len) = 0;
	virtual ~Sink()
	{
	}
};

struct FileSink : Sink {
	FILE *fp;
	explicit FileSink(FILE *f) : fp(f)
	{
	}
	bool put(const void *p, size_t len) override
	{
		if (len && fwrite(p, 1, len, fp) != len)
			return false;
		n += len;
		return true;
	}
};

struct MemSink : Sink {
	char *buf;
	size_t cap;
	MemSink(void *b, size_t c) : buf((char *)b), cap(c)
	{
	}
	bool put(const void *p, size_t len) override
	{
		if (len > cap - n)
			return false;
		if (len)
			memcpy(buf + n, p, len);
		n += len;
		return true;
	}
};

} /* namespace */

/* Bytes after the graph: SQ8's quantiser and float rows. */
static uint64_t sq8_block_size(size_t dim, size_t count)
{
	return 2 * (uint64_t)dim * sizeof(float) +
	       (uint64_t)count * dim * sizeof(float);
}

/* Size of the saved form.  Caller holds wmu (no writer runs). */
static uint64_t serialized_size(const hnswc_index *idx)
{
	const Hnsw *h = idx->h.get();
	uint64_t n = HDR_SIZE;
	if (idx->quant == HNSWC_QUANT_SQ8)
		n += sq8_block_size(idx->dim, h->cur_element_count);
	size_t count = h->cur_element_count;
	n += (uint64_t)count * h->size_data_per_element_;
	for (size_t i = 0; i < count; i++)
		n += 4 + (uint64_t)h->size_links_per_element_ *
				 (unsigned)std::max(h->element_levels_[i], 0);
	return n;
}

template <typename T> static bool put_pod(Sink &s, const T &v)
{
	return s.put(&v, sizeof(v));
}

/*
 * hnswlib 0.6.2 saveIndex() layout.  Caller holds wmu: no writer runs, so
 * the element count, levels and links are stable (searches only read).
 */
static bool serialize(const hnswc_index *idx, Sink &s)
{
	const Hnsw *h = idx->h.get();
	size_t count = h->cur_element_count;
	bool ok = put_pod(s, h->offsetLevel0_) &&
		  put_pod(s, h->max_elements_) && put_pod(s, count) &&
		  put_pod(s, h->size_data_per_element_) &&
		  put_pod(s, h->label_offset_) && put_pod(s, h->offsetData_) &&
		  put_pod(s, h->maxlevel_) && put_pod(s, h->enterpoint_node_) &&
		  put_pod(s, h->maxM_) && put_pod(s, h->maxM0_) &&
		  put_pod(s, h->M_) && put_pod(s, h->mult_) &&
		  put_pod(s, h->ef_construction_);
	if (!ok ||
	    !s.put(h->data_level0_memory_, count * h->size_data_per_element_))
		return false;
	for (size_t i = 0; i < count; i++) {
		int lev = h->element_levels_[i];
		uint32_t sz = lev > 0 ? (uint32_t)(h->size_links_per_element_ *
						   (size_t)lev)
				      : 0;
		if (!put_pod(s, sz) || (sz && !s.put(h->linkLists_[i], sz)))
			return false;
	}
	if (idx->quant == HNSWC_QUANT_SQ8) {
		size_t d = idx->dim * sizeof(float);
		if (!s.put(idx->sp->lo.data(), d) ||
		    !s.put(idx->sp->scale.data(), d) ||
		    !s.put(idx->raw, count * d))
			return false;
	}
	return true;
}

static int check_savable(const hnswc_index *idx, const char *what,
			 hnswc_error *err)
{
	if (idx->broken.load())
		return err_set(
			err, HNSWC_EINTERNAL,
			"%s: the index was left inconsistent by a failed "
			"insert; it cannot be saved",
			what);
	return 0;
}

extern "C" uint64_t hnswc_serialized_size(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	return quiet((uint64_t)0, [&]() {
		std::lock_guard<std::mutex> w(idx->wmu);
		return serialized_size(idx);
	});
}

extern "C" int hnswc_save_fp(const hnswc_index *idx, FILE *fp,
			     uint64_t *written, hnswc_error *err)
{
	if (written)
		*written = 0;
	if (!idx || !fp)
		return err_set(err, HNSWC_EINVAL, "hnswc_save_fp: %s is NULL",
			       idx ? "fp" : "index");
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, "hnswc_save_fp", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		int rc = check_savable(idx, "hnswc_save_fp", err);
		if (rc)
			return rc;
		FileSink s(fp);
		errno = 0;
		if (!serialize(idx, s))
			return err_set(err, HNSWC_EIO,
				       "hnswc_save_fp: write failed after %llu "
				       "bytes: %s",
				       (unsigned long long)s.n,
				       strerror(errno ? errno : EIO));
		if (written)
			*written = s.n;
		return 0;
	});
}

extern "C" int hnswc_save_mem(const hnswc_index *idx, void *buf, size_t cap,
			      size_t *written, hnswc_error *err)
{
	if (written)
		*written = 0;
	if (!idx || (!buf && cap))
		return err_set(err, HNSWC_EINVAL, "hnswc_save_mem: %s is NULL",
			       idx ? "buf" : "index");
	if (int rc = settle(idx, err))
		return rc;
	return guarded(err, "hnswc_save_mem", [&]() -> int {
		std::lock_guard<std::mutex> w(idx->wmu);
		int rc = check_savable(idx, "hnswc_save_mem", err);
		if (rc)
			return rc;
		uint64_t need = serialized_size(idx);
		if (written)
			*written = (size_t)need;
		if (need > cap)
			return err_set(err, HNSWC_EINVAL,
				       "hnswc_save_mem: buffer of %zu bytes is "
				       "too small: %llu needed",
				       cap, (unsigned long long)need);
		MemSink s(buf, cap);
		if (!serialize(idx, s))
			return err_set(err, HNSWC_EINTERNAL,
				       "hnswc_save_mem: size changed while "
				       "saving");
		return 0;
	});
}

extern "C" int hnswc_save(const hnswc_index *idx, const char *path,
			  hnswc_error *err)
{
	if (!idx || !path)
		return err_set(err, HNSWC_EINVAL, "hnswc_save: %s is NULL",
			       idx ? "path" : "index");
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return err_set(err, HNSWC_EIO,
			       "hnswc_save: cannot create %s: %s", path,
			       strerror(errno));
	int rc = hnswc_save_fp(idx, fp, nullptr, err);
	if (rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
		rc = err_set(err, HNSWC_EIO, "hnswc_save: writing %s: %s", path,
			     strerror(errno));
	if (fclose(fp) != 0 && rc == 0)
		rc = err_set(err, HNSWC_EIO, "hnswc_save: closing %s: %s", path,
			     strerror(errno));
	if (rc == 0)
		err_clear(err);
	return rc;
}

/* ---- load ---- */

namespace
{

/* Reads exactly n bytes or fails; `eof` tells truncation from I/O error. */
struct Source {
	bool eof = false;
	int error = 0;
	virtual bool get(void *p, size_t n) = 0;
	/* The next n bytes in place, or NULL when the source has no memory
	 * of its own (a stream); the source advances past them. */
	virtual const void *view(size_t n)
	{
		(void)n;
		return nullptr;
	}
	virtual ~Source()
	{
	}
};

struct FileSource : Source {
	FILE *fp;
	explicit FileSource(FILE *f) : fp(f)
	{
	}
	bool get(void *p, size_t n) override
	{
		if (n == 0)
			return true;
		errno = 0;
		if (fread(p, 1, n, fp) == n)
			return true;
		if (ferror(fp))
			error = errno ? errno : EIO;
		else
			eof = true;
		return false;
	}
};

struct MemSource : Source {
	const char *buf;
	size_t len, pos = 0;
	MemSource(const void *b, size_t l) : buf((const char *)b), len(l)
	{
	}
	bool get(void *p, size_t n) override
	{
		if (n > len - pos) {
			eof = true;
			return false;
		}
		if (n)
			memcpy(p, buf + pos, n);
		pos += n;
		return true;
	}
	const void *view(size_t n) override
	{
		if (n > len - pos)
			return nullptr;
		pos += n;
		return buf + pos - n;
	}
};

/* The fixed header of hnswlib 0.6.2's saveIndex(), in file order. */
struct hnsw_header {
	uint64_t offset_level0, max_elements, count, size_data_per_element,
		label_offset, offset_data;
	int32_t maxlevel;
	uint32_t enterpoint;
	uint64_t max_m, max_m0, m;
	double mult;
	uint64_t ef_construction;
};

template <typename T> static void take(const unsigned char *&p, T &v)
{
	memcpy(&v, p, sizeof(v));
	p += sizeof(v);
}

/* Load context: where the bytes come from and how to name them. */
struct Loader {
	Source &src;
	uint64_t left; /* bytes not yet consumed of the declared length */
	const char *name;
	hnswc_error *err;

	/* ECORRUPT with the input's name; printf-style. */
	__attribute__((format(printf, 2, 3))) int corrupt(const char *fmt, ...)
	{
		char m[192];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m, sizeof(m), fmt, ap);
		va_end(ap);
		return err_set(err, HNSWC_ECORRUPT, "%s: corrupt index: %s",
			       name, m);
	}

	/* The next n bytes in place (a memory source), or NULL: read. */
	const void *view(size_t n)
	{
		if (n > left)
			return nullptr;
		const void *p = src.view(n);
		if (p)
			left -= n;
		return p;
	}

	/* Read n bytes that the length check said are there. */
	int read(void *p, size_t n, const char *what)
	{
		if (n > left)
			return corrupt("truncated in %s (%zu bytes needed, "
				       "%llu left)",
				       what, n, (unsigned long long)left);
		if (!src.get(p, n)) {
			if (src.error)
				return err_set(err, HNSWC_EIO,
					       "%s: reading %s: %s", name, what,
					       strerror(src.error));
			return corrupt("truncated in %s (input ended early)",
				       what);
		}
		left -= n;
		return 0;
	}
};

} /* namespace */

/* Checks of the fixed header, before anything is allocated. */
static int check_header(Loader &L, const hnsw_header &hd, size_t dim,
			size_t vsize)
{
	if (hd.offset_level0 != 0)
		return L.corrupt("offsetLevel0 is %llu, expected 0",
				 (unsigned long long)hd.offset_level0);
	if (hd.m < HNSWC_MIN_M || hd.m > HNSWC_MAX_M)
		return L.corrupt("M is %llu, not in [%d, %d]",
				 (unsigned long long)hd.m, HNSWC_MIN_M,
				 HNSWC_MAX_M);
	if (hd.max_m != hd.m || hd.max_m0 != 2 * hd.m)
		return L.corrupt("maxM %llu / maxM0 %llu do not match M %llu",
				 (unsigned long long)hd.max_m,
				 (unsigned long long)hd.max_m0,
				 (unsigned long long)hd.m);
	uint64_t links0 =
		hd.max_m0 * sizeof(tableint) + sizeof(linklistsizeint);
	uint64_t sdpe = links0 + vsize + sizeof(labeltype);
	if (hd.size_data_per_element != sdpe)
		return L.corrupt("element size is %llu bytes; dim %zu and M "
				 "%llu need %llu (wrong dim?)",
				 (unsigned long long)hd.size_data_per_element,
				 dim, (unsigned long long)hd.m,
				 (unsigned long long)sdpe);
	if (hd.offset_data != links0 || hd.label_offset != links0 + vsize)
		return L.corrupt("data/label offsets %llu/%llu do not match "
				 "dim %zu and M %llu",
				 (unsigned long long)hd.offset_data,
				 (unsigned long long)hd.label_offset, dim,
				 (unsigned long long)hd.m);
	double mult = 1 / log(1.0 * (double)hd.m);
	if (!(fabs(hd.mult - mult) <= 1e-9 * mult))
		return L.corrupt("level multiplier %g does not match M %llu",
				 hd.mult, (unsigned long long)hd.m);
	if (hd.ef_construction < hd.m ||
	    hd.ef_construction > MAX_EF_CONSTRUCTION)
		return L.corrupt("ef_construction %llu is not in [M, %zu]",
				 (unsigned long long)hd.ef_construction,
				 MAX_EF_CONSTRUCTION);
	if (hd.count > HNSWC_MAX_ELEMENTS)
		return L.corrupt("element count %llu exceeds the limit %zu",
				 (unsigned long long)hd.count,
				 HNSWC_MAX_ELEMENTS);
	if (hd.count > hd.max_elements)
		return L.corrupt("element count %llu exceeds the capacity "
				 "%llu recorded with it",
				 (unsigned long long)hd.count,
				 (unsigned long long)hd.max_elements);
	if (hd.count == 0) {
		if (hd.enterpoint != (uint32_t)-1 || hd.maxlevel != -1)
			return L.corrupt("empty index with entry point %u and "
					 "top level %d",
					 hd.enterpoint, hd.maxlevel);
	} else {
		if (hd.enterpoint >= hd.count)
			return L.corrupt("entry point %u is not below the "
					 "element count %llu",
					 hd.enterpoint,
					 (unsigned long long)hd.count);
		if (hd.maxlevel < 0 || hd.maxlevel > MAX_LEVEL)
			return L.corrupt("top level %d is not in [0, %d]",
					 hd.maxlevel, MAX_LEVEL);
	}
	/* Every element needs its record and a 4-byte link-list size. */
	if (hd.count > L.left / (sdpe + 4))
		return L.corrupt("%llu elements of %llu bytes do not fit in "
				 "%llu bytes",
				 (unsigned long long)hd.count,
				 (unsigned long long)sdpe + 4,
				 (unsigned long long)L.left);
	return 0;
}

/* Check one neighbour list (level 0 or upper) of element i. */
static int check_list(const char *name, hnswc_error *err, const Hnsw *h,
		      size_t i, int level, size_t count)
{
	const linklistsizeint *ll =
		h->get_linklist_at_level((tableint)i, level);
	const unsigned char *hdr = (const unsigned char *)ll;
	size_t n = h->getListCount(const_cast<linklistsizeint *>(ll));
	size_t cap = level ? h->maxM_ : h->maxM0_;
	/* Byte 2 of the level-0 header holds the delete mark; the rest of
	 * the header beyond the 16-bit count is zero. */
	unsigned flags = level ? 0 : Hnsw::DELETE_MARK;
	if ((hdr[2] & ~flags) || hdr[3])
		return err_set(err, HNSWC_ECORRUPT,
			       "%s: corrupt index: element %zu level %d: bad "
			       "list header %02x%02x%02x%02x",
			       name, i, level, hdr[0], hdr[1], hdr[2], hdr[3]);
	if (n > cap)
		return err_set(err, HNSWC_ECORRUPT,
			       "%s: corrupt index: element %zu level %d: %zu "
			       "neighbours, more than %zu",
			       name, i, level, n, cap);
	const tableint *ids = (const tableint *)(ll + 1);
	for (size_t j = 0; j < n; j++) {
		if (ids[j] >= count)
			return err_set(err, HNSWC_ECORRUPT,
				       "%s: corrupt index: element %zu level "
				       "%d: neighbour %u is not below the "
				       "element count %zu",
				       name, i, level, ids[j], count);
		if (h->element_levels_[ids[j]] < level)
			return err_set(err, HNSWC_ECORRUPT,
				       "%s: corrupt index: element %zu level "
				       "%d: neighbour %u has only %d levels",
				       name, i, level, ids[j],
				       h->element_levels_[ids[j]]);
	}
	return 0;
}

/*
 * Map the bottom layer of x (count elements of sdpe bytes, which the source
 * holds in place at `mem`, and the file fd at offset `off`, page-aligned):
 * an anonymous reservation for the capacity, the whole pages of the file's
 * copy mapped over its start copy-on-write (read-only while populated, so
 * that populating does not copy them), the last partial page copied.  False
 * when it cannot (then the caller copies).
 */
static bool map_level0(hnswc_index *x, Hnsw *h, int fd, uint64_t off,
		       const void *mem, size_t count, bool populate)
{
	size_t sdpe = h->size_data_per_element_;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = count * sdpe;
	size_t len = (h->max_elements_ * sdpe + pg - 1) / pg * pg;
	size_t whole = bytes / pg * pg;

	if (fd < 0 || off % pg || whole == 0)
		return false;
	void *base = mmap(nullptr, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return false;
	/* Populated read-only, so that populating does not copy the pages;
	 * without populating (deferred checks), pages are mapped as first
	 * touched. */
	if (populate ? mmap(base, whole, PROT_READ,
			    MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd,
			    (off_t)off) == MAP_FAILED ||
			       mprotect(base, whole, PROT_READ | PROT_WRITE)
		     : mmap(base, whole, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_FIXED, fd,
			    (off_t)off) == MAP_FAILED) {
		munmap(base, len);
		return false;
	}
	memcpy((char *)base + whole, (const char *)mem + whole, bytes - whole);
	free(h->data_level0_memory_);
	h->data_level0_memory_ = (char *)base;
	x->l0map = base;
	x->l0len = len;
	x->l0file = whole;
	return true;
}

static int load_impl(Source &src, uint64_t len, const char *name, int space,
		     int quant, size_t dim, size_t max_elements, int fd,
		     uint64_t off, unsigned flags, hnswc_index **out,
		     hnswc_error *err)
{
	bool sq8 = quant == HNSWC_QUANT_SQ8;
	size_t vsize = sq8 ? dim : dim * sizeof(float);
	Loader L{ src, len, name, err };
	unsigned char raw[HDR_SIZE];
	hnsw_header hd;
	int rc;

	if (len == 0)
		return L.corrupt("empty input (0 bytes)");
	if (len < HDR_SIZE)
		return L.corrupt("%llu bytes, shorter than the %zu-byte header",
				 (unsigned long long)len, HDR_SIZE);
	if ((rc = L.read(raw, HDR_SIZE, "the header")))
		return rc;
	const unsigned char *p = raw;
	take(p, hd.offset_level0);
	take(p, hd.max_elements);
	take(p, hd.count);
	take(p, hd.size_data_per_element);
	take(p, hd.label_offset);
	take(p, hd.offset_data);
	take(p, hd.maxlevel);
	take(p, hd.enterpoint);
	take(p, hd.max_m);
	take(p, hd.max_m0);
	take(p, hd.m);
	take(p, hd.mult);
	take(p, hd.ef_construction);
	if ((rc = check_header(L, hd, dim, vsize)))
		return rc;

	/* Only now allocate: sizes are bounded by the checked length and
	 * by the caller's max_elements. */
	size_t count = (size_t)hd.count;
	size_t cap = std::max(std::max(max_elements, count), (size_t)1);
	if (cap > HNSWC_MAX_ELEMENTS)
		return err_set(err, HNSWC_EINVAL,
			       "%s: max_elements %zu exceeds the limit %zu",
			       name, max_elements, HNSWC_MAX_ELEMENTS);
	if (sq8 && hd.count > L.left / (dim * sizeof(float)))
		return L.corrupt("%llu float rows of dim %zu do not fit in "
				 "%llu bytes",
				 (unsigned long long)hd.count, dim,
				 (unsigned long long)L.left);
	std::unique_ptr<hnswc_index> x(new hnswc_index());
	make_space(x.get(), space, quant, dim, cap);
	x->h.reset(new Hnsw(x->sp.get(), cap, (size_t)hd.m,
			    (size_t)hd.ef_construction, 100));
	Hnsw *h = x->h.get();
	if (h->size_data_per_element_ != hd.size_data_per_element ||
	    h->ef_construction_ != hd.ef_construction)
		return err_set(err, HNSWC_EINTERNAL,
			       "%s: hnswlib's layout differs from the file's",
			       name);
	size_t sdpe = h->size_data_per_element_;
	size_t slpe = h->size_links_per_element_;

	const void *l0 = fd >= 0 ? L.view(count * sdpe) : nullptr;
	bool defer = (flags & HNSWC_LOAD_DEFER) != 0;
	bool mapped = l0 && map_level0(x.get(), h, fd, off + HDR_SIZE, l0,
				       count, !defer);
	if (!mapped)
		defer = false; /* copied: it was read anyway */
	if (l0 && !mapped)
		memcpy(h->data_level0_memory_, l0, count * sdpe);
	else if (!l0 && (rc = L.read(h->data_level0_memory_, count * sdpe,
				     "the element records")))
		return rc;
	bool check_vectors = !(flags & HNSWC_LOAD_TRUSTED);
	/* Upper layers.  cur_element_count counts the elements whose
	 * linkLists_ slot is set, so that hnswlib's destructor frees
	 * exactly what was allocated if a later check fails. */
	for (size_t i = 0; i < count; i++) {
		uint32_t sz;
		if ((rc = L.read(&sz, sizeof(sz), "a link-list size")))
			return rc;
		if (sz % slpe)
			return L.corrupt(
				"element %zu: link-list size %u is not "
				"a multiple of %zu",
				i, sz, slpe);
		size_t lev = sz / slpe;
		if (lev > (size_t)hd.maxlevel)
			return L.corrupt(
				"element %zu has %zu levels, above the "
				"top level %d",
				i, lev, hd.maxlevel);
		/* The remaining elements need 4 bytes each. */
		if ((uint64_t)sz + 4 * (uint64_t)(count - i - 1) > L.left)
			return L.corrupt("element %zu: link lists of %u bytes "
					 "run past the end",
					 i, sz);
		h->linkLists_[i] = nullptr;
		h->element_levels_[i] = 0;
		if (sz) {
			char *ll = (char *)malloc(sz + LIST_SLACK);
			if (!ll)
				throw std::bad_alloc();
			h->linkLists_[i] = ll;
			h->element_levels_[i] = (int)lev;
		}
		h->cur_element_count = i + 1;
		if (sz && (rc = L.read(h->linkLists_[i], sz, "a link list")))
			return rc;
	}
	if (sq8) {
		uint64_t need = sq8_block_size(dim, count);
		if (L.left != need)
			return L.corrupt("the SQ8 block is %llu bytes, %llu "
					 "expected for %zu elements of dim %zu",
					 (unsigned long long)L.left,
					 (unsigned long long)need, count, dim);
		KernelSpace *sp = x->sp.get();
		std::vector<float> lo(dim), sc(dim);
		if ((rc = L.read(lo.data(), dim * sizeof(float),
				 "the SQ8 minimums")) ||
		    (rc = L.read(sc.data(), dim * sizeof(float),
				 "the SQ8 steps")) ||
		    (rc = L.read(x->raw, count * dim * sizeof(float),
				 "the float vectors")))
			return rc;
		/* Untrained (all steps 0) only while empty. */
		bool trained = sc[0] > 0;
		for (size_t i = 0; i < dim; i++) {
			bool ok = std::isfinite(lo[i]) &&
				  (trained ? sc[i] > 0 && std::isfinite(sc[i])
					   : sc[i] == 0 && lo[i] == 0);
			if (!ok)
				return L.corrupt("SQ8 dimension %zu: minimum "
						 "%g, step %g",
						 i, lo[i], sc[i]);
			if (trained)
				sp->set_range(i, lo[i], lo[i] + 255 * sc[i]);
			sp->lo[i] = lo[i]; /* exactly as saved */
			sp->scale[i] = sc[i];
		}
		if (!trained && count)
			return L.corrupt("%zu elements but no SQ8 quantiser",
					 count);
		x->trained.store(trained);
	} else {
		x->trained.store(true);
	}
	if (L.left)
		return L.corrupt("%llu unexpected bytes after the index",
				 (unsigned long long)L.left);

	/* Graph checks: ids, levels, headers, labels, vectors. */
	size_t deleted = 0;
	if (!defer)
		h->label_lookup_.reserve(count);
	for (size_t i = 0; i < count && !defer; i++) {
		for (int lev = 0; lev <= h->element_levels_[i]; lev++)
			if ((rc = check_list(L.name, err, h, i, lev, count)))
				return rc;
		labeltype label = h->getExternalLabel((tableint)i);
		if (!h->label_lookup_.emplace(label, (tableint)i).second)
			return L.corrupt("label %llu appears twice",
					 (unsigned long long)label);
		if (check_vectors &&
		    !all_finite(sq8 ? x->raw + i * dim
				    : (const float *)h->getDataByInternalId(
					      (tableint)i),
				dim))
			return L.corrupt("element %zu (label %llu) has a "
					 "non-finite vector component",
					 i, (unsigned long long)label);
		if (h->isMarkedDeleted((tableint)i))
			deleted++;
	}
	if (count && h->element_levels_[hd.enterpoint] != hd.maxlevel)
		return L.corrupt("entry point %u has %d levels, not the top "
				 "level %d",
				 hd.enterpoint,
				 h->element_levels_[hd.enterpoint],
				 hd.maxlevel);
	h->num_deleted_ = deleted;
	h->enterpoint_node_ = hd.enterpoint;
	h->maxlevel_ = hd.maxlevel;
	x->deferred.store(defer);
	*out = x.release();
	return 0;
}

static int load_checked(Source &src, uint64_t len, const char *name, int space,
			int quant, size_t dim, size_t max_elements,
			hnswc_index **out, hnswc_error *err, int fd = -1,
			uint64_t off = 0, unsigned flags = 0)
{
	return guarded(err, name, [&]() -> int {
		return load_impl(src, len, name, space, quant, dim,
				 max_elements, fd, off, flags, out, err);
	});
}

/* Load from memory (and map from fd at off, see hnswc_load_map_q()). */
static int load_memory(const char *fn, const char *name, int fd, uint64_t off,
		       const void *buf, size_t len, int space, int quant,
		       size_t dim, size_t max_elements, unsigned flags,
		       hnswc_index **out, hnswc_error *err)
{
	if (!out)
		return err_set(err, HNSWC_EINVAL, "%s: out is NULL", fn);
	*out = nullptr;
	if (!buf && len)
		return err_set(err, HNSWC_EINVAL, "%s: buf is NULL", fn);
	if (flags & ~(unsigned)(HNSWC_LOAD_TRUSTED | HNSWC_LOAD_DEFER))
		return err_set(err, HNSWC_EINVAL, "%s: unknown flags 0x%x", fn,
			       flags);
	int rc = check_params(space, dim, err);
	if (!rc)
		rc = check_quant(quant, err);
	if (rc)
		return rc;
	MemSource src(buf, len);
	return load_checked(src, len, name, space, quant, dim, max_elements,
			    out, err, fd, off, flags);
}

extern "C" int hnswc_load_map_q(int fd, uint64_t off, const void *buf,
				size_t len, int space, int quant, size_t dim,
				size_t max_elements, unsigned flags,
				hnswc_index **out, hnswc_error *err)
{
	return load_memory("hnswc_load_map_q", "mapped file", fd, off, buf, len,
			   space, quant, dim, max_elements, flags, out, err);
}

extern "C" size_t hnswc_mapped_bytes(const hnswc_index *idx)
{
	if (!idx)
		return 0;
	std::lock_guard<std::mutex> w(idx->wmu);
	return idx->l0file;
}

extern "C" int hnswc_load_mem(const void *buf, size_t len, int space,
			      size_t dim, size_t max_elements,
			      hnswc_index **out, hnswc_error *err)
{
	return hnswc_load_mem_q(buf, len, space, HNSWC_QUANT_NONE, dim,
				max_elements, out, err);
}

extern "C" int hnswc_load_mem_q(const void *buf, size_t len, int space,
				int quant, size_t dim, size_t max_elements,
				hnswc_index **out, hnswc_error *err)
{
	return load_memory("hnswc_load_mem", "buffer", -1, 0, buf, len, space,
			   quant, dim, max_elements, 0, out, err);
}

extern "C" int hnswc_load_fp(FILE *fp, uint64_t len, int space, size_t dim,
			     size_t max_elements, hnswc_index **out,
			     hnswc_error *err)
{
	return hnswc_load_fp_q(fp, len, space, HNSWC_QUANT_NONE, dim,
			       max_elements, out, err);
}

extern "C" int hnswc_load_fp_q(FILE *fp, uint64_t len, int space, int quant,
			       size_t dim, size_t max_elements,
			       hnswc_index **out, hnswc_error *err)
{
	if (!out)
		return err_set(err, HNSWC_EINVAL, "hnswc_load_fp: out is NULL");
	*out = nullptr;
	if (!fp)
		return err_set(err, HNSWC_EINVAL, "hnswc_load_fp: fp is NULL");
	int rc = check_params(space, dim, err);
	if (rc)
		return rc;
	/* For a regular file, len must fit in what is left of it. */
	struct stat st;
	int fd = fileno(fp);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t pos = ftello(fp);
		if (pos >= 0 && pos <= st.st_size &&
		    len > (uint64_t)(st.st_size - pos))
			return err_set(err, HNSWC_ECORRUPT,
				       "stream: corrupt index: %llu bytes "
				       "declared, %llu left in the file",
				       (unsigned long long)len,
				       (unsigned long long)(st.st_size - pos));
	}
	if ((rc = check_quant(quant, err)))
		return rc;
	FileSource src(fp);
	return load_checked(src, len, "stream", space, quant, dim, max_elements,
			    out, err);
}

extern "C" int hnswc_load(const char *path, int space, size_t dim,
			  size_t max_elements, hnswc_index **out,
			  hnswc_error *err)
{
	if (!out)
		return err_set(err, HNSWC_EINVAL, "hnswc_load: out is NULL");
	*out = nullptr;
	if (!path)
		return err_set(err, HNSWC_EINVAL, "hnswc_load: path is NULL");
	int rc = check_params(space, dim, err);
	if (rc)
		return rc;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return err_set(err, HNSWC_EIO, "hnswc_load: cannot open %s: %s",
			       path, strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) != 0) {
		rc = err_set(err, HNSWC_EIO, "hnswc_load: stat %s: %s", path,
			     strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = err_set(err, HNSWC_EIO,
			     "hnswc_load: %s is not a regular file", path);
	} else {
		FileSource src(fp);
		rc = load_checked(src, (uint64_t)st.st_size, path, space,
				  HNSWC_QUANT_NONE, dim, max_elements, out,
				  err);
	}
	fclose(fp);
	return rc;
}
