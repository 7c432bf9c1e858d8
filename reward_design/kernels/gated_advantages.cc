// One pass over the rubric and the rewards on CPU: a counting rubric gate
// (accept when at least `k` items pass; AllOf is k = K) followed by a
// group-relative advantage estimator (GRPO, Dr. GRPO or RLOO).
//
// Compiled at first use by reward_design/kernels/_build.py (g++ -O3
// -march=native; GCC vector extensions, plus one AVX-512BW instruction with a
// portable fallback) and called through
// jax.ffi as an XLA custom call. The Python side checks shapes and dtypes
// and keeps the plain XLA program as the reference (and as the fallback
// where no compiler is available); tests compare the two. Rewards whose
// squared deviations overflow float32 (|r| above about 1e19) give
// meaningless GRPO advantages here and in XLA, differently.
//
// Semantics (the same as reward_design.advantages with mask = passed):
//   passed  = valid & (count_k rubric[.., k] >= k_threshold)
//   top     = max of passed rewards in the group (0 if not finite)
//   x       = passed ? r - top : 0                      (the group shift)
//   n, mean = number of passed members, sum(x) / max(n, 1)
//   c       = passed ? x - mean : 0
//   GRPO    : c * (1 / (std + eps)), std = sqrt(sum(c^2) / (n - ddof)) if n > ddof else 0
//   Dr. GRPO: c
//   RLOO    : n / (n - 1) * c if n > 1 else 0
//   masked-out members: exactly 0 (whatever their reward).
// Group sums use two passes over values held in registers (the shift makes
// constant groups exactly 0).
//
// Layout: rewards and valid are [R] (R = P * G rollouts, group-major),
// rubric is [R, K] bytes of 0/1 (XLA's PRED). Work is split into chunks of
// whole groups and spread over XLA's intra-op thread pool.

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr int kLanes = 16;
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint64_t vu __attribute__((vector_size(64)));

enum Estimator : int64_t { kGrpo = 0, kDrGrpo = 1, kRloo = 2 };

struct Params {
  const float* rewards;
  const uint8_t* rubric;
  const uint8_t* valid;
  bool valid_scalar;  // one value for every rollout
  float* out;
  uint8_t* passed;
  int64_t num_groups;
  int64_t group_size;
  int64_t num_items;
  float k_threshold;
  float eps;
  int64_t estimator;
  int64_t ddof;
};

// ------------------------------------------------------------- rubric counts
inline int32_t count_items(const uint8_t* row, int64_t num_items) {
  int32_t c = 0;
  int64_t k = 0;
  for (; k + 8 <= num_items; k += 8) {
    uint64_t w;
    std::memcpy(&w, row + k, 8);
    // bytes are 0/1: the top byte of w * 0x0101..01 is their sum (<= 8)
    c += static_cast<int32_t>((w * 0x0101010101010101ULL) >> 56);
  }
  for (; k < num_items; ++k) c += row[k];
  return c;
}

inline vf splat(float v) { return vf{} + v; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// ------------------------------------------------------------ transposition
// A block of G vectors holds 16 groups of G rollouts (G a power of two <= 64):
// rollout v * 16 + l sits in vector v, lane l. For G <= 16 it is member l % G
// of its group, and swapping each of the log2(G) vector-index bits with the
// lane bit of the same weight moves member j of all 16 groups into vector j.
// For G = 16 m a group spans m vectors; swapping the four vector-index bits
// above the lowest log2(m) with the four lane bits does the same (the members
// end up in a permuted vector order, which the per-lane arithmetic does not
// mind). Either way each lane holds one group, so group sums become G - 1
// vertical adds and each group-level value (mean, std) is computed once per
// lane. The swap is its own inverse.
template <int B, int... L>
constexpr vi lo_index(std::integer_sequence<int, L...>) {
  return vi{((L & B) ? kLanes + (L - B) : L)...};
}
template <int B, int... L>
constexpr vi hi_index(std::integer_sequence<int, L...>) {
  return vi{((L & B) ? kLanes + L : L + B)...};
}

template <int G, typename V>
inline void transpose(V* a) {
  // Vector-index bit VB <-> lane bit LB. For G <= 16 the vector bits 0..log2(G)-1;
  // for G = 16 m the vector bits log2(m)..log2(m)+3 (the lower ones already
  // index members: a group spans m vectors).
  auto stage = [a](auto lane_bit) {
    constexpr int LB = decltype(lane_bit)::value;
    constexpr int VB = G <= kLanes ? LB : LB * (G / kLanes);
    constexpr auto lanes = std::make_integer_sequence<int, kLanes>{};
    constexpr vi lo = lo_index<LB>(lanes), hi = hi_index<LB>(lanes);
    for (int v = 0; v < G; ++v) {
      if (v & VB) continue;
      const V x = a[v], y = a[v | VB];
      a[v] = __builtin_shuffle(x, y, lo);
      a[v | VB] = __builtin_shuffle(x, y, hi);
    }
  };
  if constexpr (G >= 2) stage(std::integral_constant<int, 1>{});
  if constexpr (G >= 4) stage(std::integral_constant<int, 2>{});
  if constexpr (G >= 8) stage(std::integral_constant<int, 4>{});
  if constexpr (G >= 16) stage(std::integral_constant<int, 8>{});
}

// Accepted lanes of 16 consecutive rollouts: valid and count >= k.
// K8: K == 8 (one 8-byte word of 0/1 bytes per rollout); VS: valid is one value.
template <bool K8, bool VS>
inline vi accept16(const Params& p, int64_t i, int32_t k_count) {
  vi cnt;
  if constexpr (K8) {
    vu a, b;
    std::memcpy(&a, p.rubric + i * 8, sizeof(vu));
    std::memcpy(&b, p.rubric + i * 8 + 64, sizeof(vu));
#if defined(__AVX512BW__)
    // the byte sum of each 8-byte word in one instruction (sum of |x - 0|)
    a = (vu)_mm512_sad_epu8((__m512i)a, _mm512_setzero_si512());
    b = (vu)_mm512_sad_epu8((__m512i)b, _mm512_setzero_si512());
#else
    // the byte sum (<= 8) by shift-and-add
    a += a >> 32;
    b += b >> 32;
    a += a >> 16;
    b += b >> 16;
    a += a >> 8;
    b += b >> 8;
    a &= 0xff;
    b &= 0xff;
#endif
    const vi even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    cnt = __builtin_shuffle((vi)a, (vi)b, even);  // low 32 bits of each word
  } else {
    int32_t c[kLanes];
    for (int j = 0; j < kLanes; ++j) c[j] = count_items(p.rubric + (i + j) * p.num_items, p.num_items);
    std::memcpy(&cnt, c, sizeof(vi));
  }
  vi m = cnt >= k_count;
  if constexpr (VS) {
    if (!p.valid[0]) m = vi{};
  } else {
    int32_t v32[kLanes];
    for (int j = 0; j < kLanes; ++j) v32[j] = p.valid[i + j];
    vi v;
    std::memcpy(&v, v32, sizeof(vi));
    m &= v != 0;
  }
  uint8_t out8[kLanes];
  for (int j = 0; j < kLanes; ++j) out8[j] = static_cast<uint8_t>(m[j] & 1);
  std::memcpy(p.passed + i, out8, kLanes);
  return m;
}

// For an integer count c and a threshold k: c >= k  <=>  c >= ceil(k).
inline int32_t count_threshold(float k) {
  if (!(k > -1e9f)) return k != k ? INT32_MAX : INT32_MIN;  // NaN never passes; -inf always
  if (k > 1e9f) return INT32_MAX;
  return static_cast<int32_t>(std::ceil(k));
}

// Rollouts [begin, end): whole blocks of 16 groups (16 * G rollouts).
template <int G, int64_t E, bool K8, bool VS>
void run_vector(const Params& params, int64_t begin, int64_t end) {
  const Params p = params;  // a local copy: stores through p.out cannot change it
  const int32_t k_count = count_threshold(p.k_threshold);
  const vf zero = splat(0.f), one = splat(1.f);
  const vf ninf = splat(-std::numeric_limits<float>::infinity());
  for (int64_t i = begin; i < end; i += kLanes * G) {
    vf r[G];
    vi m[G];
    for (int v = 0; v < G; ++v) {
      m[v] = accept16<K8, VS>(p, i + v * kLanes, k_count);
      std::memcpy(&r[v], p.rewards + i + v * kLanes, sizeof(vf));
    }
    transpose<G>(r);
    transpose<G>(m);
    // lane = group, r[j] = member j
    vf top = ninf;
    for (int j = 0; j < G; ++j) top = vmax(top, m[j] ? r[j] : ninf);
    top = (top - top == zero) ? top : zero;  // not finite (empty group, inf/NaN): no shift
    vf n = zero, sum = zero;
    for (int j = 0; j < G; ++j) {
      r[j] = m[j] ? r[j] - top : zero;
      n += m[j] ? one : zero;
      sum += r[j];
    }
    const vf mean = sum / (n > one ? n : one);
    for (int j = 0; j < G; ++j) r[j] = m[j] ? r[j] - mean : zero;  // centred
    if constexpr (E == kGrpo) {
      vf q = zero;
      for (int j = 0; j < G; ++j) q += r[j] * r[j];
      const vf ddof = splat(static_cast<float>(p.ddof));
      const vf denom = n - ddof;
      const vf var = n > ddof ? q / (denom > one ? denom : one) : zero;
      vf sd;
      for (int l = 0; l < kLanes; ++l) sd[l] = __builtin_sqrtf(var[l]);
      sd = var > zero ? sd : zero;  // a NaN variance (inf rewards) counts as 0, as in XLA
      const vf inv = one / (sd + splat(p.eps));
      for (int j = 0; j < G; ++j) r[j] = m[j] ? r[j] * inv : zero;
    } else if constexpr (E == kRloo) {
      const vf nm1 = n - one;
      const vf factor = n > one ? n / (nm1 > one ? nm1 : one) : zero;
      for (int j = 0; j < G; ++j) r[j] = factor * r[j];
    }
    transpose<G>(r);
    for (int v = 0; v < G; ++v) std::memcpy(p.out + i + v * kLanes, &r[v], sizeof(vf));
  }
}

// Any group size, one group at a time (scalar): the tail of the vector path
// (fewer than 16 groups). Other group sizes run the XLA program instead.
void run_scalar(const Params& p, int64_t group_begin, int64_t group_end) {
  const int64_t G = p.group_size, K = p.num_items;
  const int32_t k_count = count_threshold(p.k_threshold);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t grp = group_begin; grp < group_end; ++grp) {
    const int64_t base = grp * G;
    float top = -inf;
    int64_t n = 0;
    for (int64_t j = 0; j < G; ++j) {
      const int64_t idx = base + j;
      const bool ok =
          p.valid[p.valid_scalar ? 0 : idx] != 0 && count_items(p.rubric + idx * K, K) >= k_count;
      p.passed[idx] = ok ? 1 : 0;
      if (ok) {
        ++n;
        const float v = p.rewards[idx];
        top = v > top ? v : top;
      }
    }
    if (!(top - top == 0.f)) top = 0.f;
    float s = 0.f;
    for (int64_t j = 0; j < G; ++j)
      if (p.passed[base + j]) s += p.rewards[base + j] - top;
    const float nf = static_cast<float>(n);
    const float mean = s / (nf > 1.f ? nf : 1.f);
    // the per-member factor: GRPO's 1 / (std + eps), RLOO's n / (n - 1), Dr. GRPO's 1
    float scale = 1.f;
    if (p.estimator == kRloo) {
      scale = nf > 1.f ? nf / (nf - 1.f > 1.f ? nf - 1.f : 1.f) : 0.f;
    } else if (p.estimator == kGrpo) {
      float q = 0.f;
      for (int64_t j = 0; j < G; ++j)
        if (p.passed[base + j]) {
          const float c = (p.rewards[base + j] - top) - mean;
          q += c * c;
        }
      const float ddof = static_cast<float>(p.ddof);
      const float denom = nf - ddof;
      const float var = nf > ddof ? q / (denom > 1.f ? denom : 1.f) : 0.f;
      const float sd = var > 0.f ? std::sqrt(var) : 0.f;
      scale = 1.f / (sd + p.eps);
    }
    for (int64_t j = 0; j < G; ++j) {
      const int64_t idx = base + j;
      p.out[idx] = p.passed[idx] ? ((p.rewards[idx] - top) - mean) * scale : 0.f;
    }
  }
}

void run_groups(const Params& p, int64_t group_begin, int64_t group_end) {
  const int64_t G = p.group_size;
  auto vector_path = [&](auto tag) {
    constexpr int g = decltype(tag)::value;
    // whole blocks of 16 groups; the rest one group at a time
    const int64_t full = (group_end - group_begin) / kLanes * kLanes;
    const int64_t b = group_begin * G, e = (group_begin + full) * G;
    auto by_estimator = [&](auto k8, auto vs) {
      constexpr bool K8 = decltype(k8)::value, VS = decltype(vs)::value;
      if (p.estimator == kGrpo) run_vector<g, kGrpo, K8, VS>(p, b, e);
      else if (p.estimator == kRloo) run_vector<g, kRloo, K8, VS>(p, b, e);
      else run_vector<g, kDrGrpo, K8, VS>(p, b, e);
    };
    using T = std::true_type;
    using F = std::false_type;
    if (p.num_items == 8) {
      if (p.valid_scalar) by_estimator(T{}, T{});
      else by_estimator(T{}, F{});
    } else {
      if (p.valid_scalar) by_estimator(F{}, T{});
      else by_estimator(F{}, F{});
    }
    run_scalar(p, group_begin + full, group_end);
  };
  switch (G) {
    case 1: vector_path(std::integral_constant<int, 1>{}); break;
    case 2: vector_path(std::integral_constant<int, 2>{}); break;
    case 4: vector_path(std::integral_constant<int, 4>{}); break;
    case 8: vector_path(std::integral_constant<int, 8>{}); break;
    case 16: vector_path(std::integral_constant<int, 16>{}); break;
    case 32: vector_path(std::integral_constant<int, 32>{}); break;
    case 64: vector_path(std::integral_constant<int, 64>{}); break;
    default: run_scalar(p, group_begin, group_end);  // Python sends only the cases above
  }
}

// Splits the groups into chunks, claimed through an atomic counter by the
// calling thread and by tasks on XLA's pool. The caller keeps claiming until
// none are left, so it never waits on a task that has not started (no
// deadlock if the pool is busy); the shared state outlives late tasks.
struct Shared {
  Params p;
  int64_t chunk_groups;
  int64_t num_chunks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
};

void work(Shared& s) {
  for (;;) {
    const int64_t c = s.next.fetch_add(1, std::memory_order_relaxed);
    if (c >= s.num_chunks) return;
    const int64_t b = c * s.chunk_groups;
    const int64_t e = std::min(b + s.chunk_groups, s.p.num_groups);
    run_groups(s.p, b, e);
    s.done.fetch_add(1, std::memory_order_release);
  }
}

ffi::Error GatedAdvantagesImpl(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> rewards,
                               ffi::Buffer<ffi::PRED> rubric, ffi::Buffer<ffi::PRED> valid,
                               ffi::Buffer<ffi::F32> params, ffi::ResultBuffer<ffi::F32> out,
                               ffi::ResultBuffer<ffi::PRED> passed, int64_t estimator,
                               int64_t ddof) {
  // P, G, K from the rubric [P, G, K]; rewards are its P * G rollouts in
  // group-major order, as [P, G] or flat [P * G] (the Python side passes them
  // flat: XLA:CPU then emits the fusion that computes them as a flat loop, which
  // vectorises a term's square root and division far better than a [P, 8] one).
  auto kd = rubric.dimensions();
  if (kd.size() != 3 || rewards.element_count() != kd[0] * kd[1])
    return ffi::Error::InvalidArgument("gated_advantages: rewards [P * G], rubric [P, G, K]");
  const int64_t rd[2] = {kd[0], kd[1]};
  // valid: [P, G], or one value for every rollout (no mask to read)
  if (valid.element_count() != rewards.element_count() && valid.element_count() != 1)
    return ffi::Error::InvalidArgument("gated_advantages: valid must match rewards");
  if (params.element_count() != 2)
    return ffi::Error::InvalidArgument("gated_advantages: params must be [k, eps]");
  if (estimator < kGrpo || estimator > kRloo)
    return ffi::Error::InvalidArgument("gated_advantages: unknown estimator");
  auto s = std::make_shared<Shared>();
  s->p = Params{rewards.typed_data(),
                reinterpret_cast<const uint8_t*>(rubric.typed_data()),
                reinterpret_cast<const uint8_t*>(valid.typed_data()),
                valid.element_count() == 1 && rewards.element_count() != 1,
                out->typed_data(),
                reinterpret_cast<uint8_t*>(passed->typed_data()),
                rd[0],
                rd[1],
                kd[2],
                params.typed_data()[0],
                params.typed_data()[1],
                estimator,
                ddof};
  const int64_t rollouts = rd[0] * rd[1];
  // chunks of about 16k rollouts (whole vectors of whole groups)
  int64_t chunk = std::max<int64_t>(1, (16384 / std::max<int64_t>(rd[1], 1)));
  chunk = (chunk + 15) / 16 * 16;
  s->chunk_groups = chunk;
  s->num_chunks = (rd[0] + chunk - 1) / chunk;
  // Up to num_threads helpers besides the calling thread, which claims chunks too
  // (measured slightly faster on 2 cores than num_threads - 1: pool threads may be
  // busy with other work when the call starts).
  const int64_t helpers =
      rollouts < 65536 ? 0 : std::min<int64_t>(pool.num_threads(), s->num_chunks - 1);
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule([s] { work(*s); });
  work(*s);
  while (s->done.load(std::memory_order_acquire) < s->num_chunks) std::this_thread::yield();
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(RdGatedAdvantagesF32, GatedAdvantagesImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::PRED>>()
                                  .Attr<int64_t>("estimator")
                                  .Attr<int64_t>("ddof"));
