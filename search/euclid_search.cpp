// search/euclid_search.cpp -- exhaustive Euclidean k-NN (see euclid_search.h).
#include "search/euclid_search.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "search/float16.h"
#include "search/l2.h"
#include "search/parallel.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace dlbhc {

void EuclidTopK::add(float d2, uint32_t index) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
        heap_.push_back(Item{d2, index});
        std::push_heap(heap_.begin(), heap_.end());
    } else if (Item{d2, index} < heap_.front()) {
        std::pop_heap(heap_.begin(), heap_.end());
        heap_.back() = Item{d2, index};
        std::push_heap(heap_.begin(), heap_.end());
    }
}

std::vector<EuclidHit> EuclidTopK::result() const {
    std::vector<Item> items = heap_;
    std::sort(items.begin(), items.end());
    std::vector<EuclidHit> out(items.size());
    for (size_t i = 0; i < items.size(); ++i) out[i] = EuclidHit{items[i].i, std::sqrt(items[i].d)};
    return out;
}

// ||x - q||^2 is computed as ||x||^2 + ||q||^2 - 2 x.q (as FAISS's IndexFlatL2): one FMA per
// value, with the dot kernel's 2-row x 4-query register tile (l2.h).
// Cache blocking: a group of kQueryGroup queries (256 KiB at D = 4096) shares one pass over the
// rows; kRowBlock rows (128 KiB) are compared with the whole group one dimension chunk of kDimChunk
// values at a time, so that the rows' and the queries' chunks (24 KiB) stay in the L1 cache while
// the kernel reads them 4 and 8 times over. Without the chunks the kernel waits on the L2 cache.
static const size_t kQueryGroup = 16;
static const size_t kRowBlock = 8;
static const size_t kDimChunk = 256;

namespace {

void check_features(const FeatureView& db) {
    if (db.type != FeatureType::F32 && db.type != FeatureType::F16)
        throw std::invalid_argument("euclidean_knn: expected float32 or float16 features, found none");
    if (db.n >= (size_t)UINT32_MAX)
        throw std::invalid_argument("euclidean_knn: expected fewer than 2^32 rows, found " + std::to_string(db.n));
    if (db.dim < 0) throw std::invalid_argument("euclidean_knn: expected D >= 0, found D = " + std::to_string(db.dim));
    if (db.n && !db.data) throw std::invalid_argument("euclidean_knn: expected feature data, found none");
}

// Queries q0..q1 (at most kQueryGroup) of (nq, D) `queries` as the kernel reads them: their
// norms ||q||^2 (computed with the same kernel: the query against itself) and their chunks,
// chunk-major: chunk c of query j at qt[(c * kQueryGroup + j) * kDimChunk]. In place the 16
// chunks would lie 4*D bytes apart, all in the same few L1 sets, and evict each other (8-way
// cache); contiguous they fit side by side.
struct QueryGroup {
    size_t q0 = 0, q1 = 0;
    float qn[kQueryGroup] = {};
    std::vector<float> qt;
    const float* chunk(size_t c, size_t q) const { return &qt[(c * kQueryGroup + (q - q0)) * kDimChunk]; }
};

QueryGroup query_group(const float* queries, size_t q0, size_t q1, size_t D, DotFn dot_query) {
    QueryGroup g;
    g.q0 = q0, g.q1 = q1;
    for (size_t q = q0; q < q1; ++q) {
        const float* qq = queries + q * D;
        const void* self[2] = {qq, qq};
        float t[8];
        dot_query(self, &qq, 1, (int)D, t);
        g.qn[q - q0] = t[0];
    }
    const size_t chunks = (D + kDimChunk - 1) / kDimChunk;
    g.qt.assign(chunks * kQueryGroup * kDimChunk, 0.0f);
    for (size_t q = q0; q < q1; ++q)
        for (size_t c = 0; c < chunks; ++c)
            for (size_t d = c * kDimChunk; d < std::min(D, (c + 1) * kDimChunk); ++d)
                g.qt[(c * kQueryGroup + (q - q0)) * kDimChunk + (d - c * kDimChunk)] = queries[q * D + d];
    return g;
}

// For rows r0..r1 (at most kRowBlock) of db: acc[r - r0][q - q0] = x.q for every query of the
// group, and xn[r - r0] = ||x||^2, summed over the dimension chunks. xf: room for two float16 row
// chunks as float (2 * kDimChunk), for the row norms.
void row_block_dots(const FeatureView& db, size_t r0, size_t r1, const QueryGroup& g, DotFn dot,
                    float (&acc)[kRowBlock][kQueryGroup], float (&xn)[kRowBlock], std::vector<float>& xf) {
    const size_t D = (size_t)db.dim, esize = feature_type_bytes(db.type);
    for (size_t d0 = 0; d0 < D; d0 += kDimChunk) {
        const int len = (int)std::min(kDimChunk, D - d0);
        for (size_t r = r0; r < r1; r += 2) {
            const bool pair = r + 1 < r1;
            const void* x[2] = {(const char*)db.row(r) + d0 * esize, (const char*)db.row(pair ? r + 1 : r) + d0 * esize};
            float part[8];
            for (size_t qa = g.q0; qa < g.q1; qa += 4) {
                const int m = (int)std::min<size_t>(4, g.q1 - qa);
                const float* qp[4];
                for (int j = 0; j < m; ++j) qp[j] = g.chunk(d0 / kDimChunk, qa + j);
                dot(x, qp, m, len, part);
                for (int j = 0; j < m; ++j) {
                    acc[r - r0][qa - g.q0 + j] += part[j];
                    if (pair) acc[r + 1 - r0][qa - g.q0 + j] += part[4 + j];
                }
            }
            // Row norms: the rows (as float) against themselves.
            const float* self[2];
            if (db.type == FeatureType::F32) {
                self[0] = (const float*)x[0];
                self[1] = (const float*)x[1];
            } else {
                halves_to_floats((const uint16_t*)x[0], (size_t)len, xf.data());
                halves_to_floats((const uint16_t*)x[1], (size_t)len, xf.data() + kDimChunk);
                self[0] = xf.data();
                self[1] = xf.data() + kDimChunk;
            }
            dot(x, self, 2, len, part);
            xn[r - r0] += part[0];
            if (pair) xn[r + 1 - r0] += part[5];
        }
    }
}

}  // namespace

std::vector<std::vector<EuclidHit>> euclidean_knn_batch(const FeatureView& db, const float* queries, size_t nq,
                                                        size_t k, const SearchOptions& opt) {
    check_features(db);
    // Every kernel is chosen here: the choice may throw (DLBHC_L2), which must not happen in a thread.
    const DotFn dot = dot_fn(db.type, l2_active_kernel());
    const DotFn dot_query = dot_fn(FeatureType::F32, l2_active_kernel());
    k = std::min(k, db.n);  // min(k, N) hits: a huge k must not size anything
    const size_t D = (size_t)db.dim;
    std::vector<std::vector<EuclidHit>> out(nq);
    if (k == 0) return out;
    const long long groups = (long long)((nq + kQueryGroup - 1) / kQueryGroup);
    const bool parallel = groups > 1 && nq * db.n * D >= opt.parallel_min_words;
    (void)parallel;
    ParallelErrors errors;  // no exception may leave the parallel region (search/parallel.h)
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel) num_threads(opt.threads > 0 ? opt.threads : omp_get_max_threads())
#endif
    for (long long g = 0; g < groups; ++g) errors.run([&] {
        const size_t q0 = (size_t)g * kQueryGroup, q1 = std::min(nq, q0 + kQueryGroup);
        std::vector<EuclidTopK> topk(q1 - q0, EuclidTopK(k));
        const QueryGroup group = query_group(queries, q0, q1, D, dot_query);
        std::vector<float> xf(2 * kDimChunk);
        for (size_t r0 = 0; r0 < db.n; r0 += kRowBlock) {
            const size_t r1 = std::min(db.n, r0 + kRowBlock);
            float acc[kRowBlock][kQueryGroup] = {};  // x.q, summed over the chunks
            float xn[kRowBlock] = {};                // ||x||^2
            row_block_dots(db, r0, r1, group, dot, acc, xn, xf);
            for (size_t r = r0; r < r1; ++r)
                for (size_t q = q0; q < q1; ++q) {
                    // ||x - q||^2 = ||x||^2 + ||q||^2 - 2 x.q; rounding can make it slightly negative.
                    const float d2 = std::max(0.0f, xn[r - r0] + group.qn[q - q0] - 2.0f * acc[r - r0][q - q0]);
                    if (d2 < topk[q - q0].bound()) topk[q - q0].add(d2, (uint32_t)r);
                }
        }
        for (size_t q = q0; q < q1; ++q) out[q] = topk[q - q0].result();
    });
    errors.rethrow();
    return out;
}

std::vector<EuclidHit> euclidean_knn(const FeatureView& db, const float* query, size_t k) {
    return std::move(euclidean_knn_batch(db, query, 1, k)[0]);
}

}  // namespace dlbhc
