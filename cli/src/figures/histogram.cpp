#include "figures/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

// The layout, with s = sub_bucket_bits and M = max_exponent:
//
//   A value v of bit width w lands in bucket  index(v) = shift * 2^s + (v >> shift),
//   where shift = max(0, w - s - 1).
//
// Below 2^(s+1) the shift is 0, so every value has its own bucket (exact). From 2^e upwards
// (e >= s + 1) the range [2^e, 2^(e+1)) is cut into 2^s buckets of width 2^(e-s): v >> shift is
// then in [2^s, 2^(s+1)), so consecutive powers of two occupy consecutive runs of 2^s indices
// and the layout has no holes. A bucket holding v (v >= 2^e) is 2^(e-s) <= v/2^s wide, so any
// value reported for it — its lowest or its highest — is less than v/2^s away from v: under
// 1/128 < 1% with s = 7. Values up to 2^M - 1 need (M - s + 1) * 2^s buckets.

namespace pollscope {
namespace {

// s is bounded so that a layout read from another process cannot ask for an absurd allocation
// (16 bits and 64 exponents: 3.2 M buckets, 25 MB); 16 bits is already 0.0015 % precision.
constexpr unsigned kMaxSubBucketBits = 16;
constexpr unsigned kMaxExponent = 64;

bool valid_layout(unsigned sub_bucket_bits, unsigned max_exponent) noexcept {
  return sub_bucket_bits >= 1 && sub_bucket_bits <= kMaxSubBucketBits &&
         max_exponent >= sub_bucket_bits + 1 && max_exponent <= kMaxExponent;
}

std::size_t bucket_count(unsigned sub_bucket_bits, unsigned max_exponent) noexcept {
  return std::size_t{max_exponent - sub_bucket_bits + 1} << sub_bucket_bits;
}

// A non-negative integer in any of nlohmann's integer representations; floats, strings, booleans
// and negative numbers are malformed.
std::optional<std::uint64_t> as_u64(const nlohmann::json& value) noexcept {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    const auto signed_value = value.get<std::int64_t>();
    if (signed_value >= 0) return static_cast<std::uint64_t>(signed_value);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> u64_field(const nlohmann::json& object, const char* key) noexcept {
  const auto found = object.find(key);
  if (found == object.end()) return std::nullopt;
  return as_u64(*found);
}

// The sum is written as an exact integer while it fits in 64 bits, and as a double beyond.
std::optional<long double> sum_field(const nlohmann::json& object) noexcept {
  const auto found = object.find("sum");
  if (found == object.end()) return std::nullopt;
  if (const auto integer = as_u64(*found)) return static_cast<long double>(*integer);
  if (found->is_number_float()) {
    const double value = found->get<double>();
    if (std::isfinite(value) && value >= 0) return static_cast<long double>(value);
  }
  return std::nullopt;
}

}  // namespace

Histogram::Histogram(unsigned sub_bucket_bits, unsigned max_exponent)
    : sub_bucket_bits_(sub_bucket_bits), max_exponent_(max_exponent) {
  // A layout outside the bounds would make the index arithmetic overflow or leave holes, and
  // the constructor has no other way to refuse.
  if (!valid_layout(sub_bucket_bits, max_exponent)) {
    throw std::invalid_argument("histogram layout: sub_bucket_bits must be in [1, " +
                                std::to_string(kMaxSubBucketBits) +
                                "] and max_exponent in [sub_bucket_bits + 1, 64]");
  }
  counts_.assign(bucket_count(sub_bucket_bits, max_exponent), 0);
}

void Histogram::carry() noexcept {
  sum_ += 0x1p64L;
}

std::uint64_t Histogram::lowest_in(std::size_t index) const noexcept {
  // Inverse of index_of: indices below 2^(s+1) are the values themselves; above, index >> s is
  // shift + 1 and the remainder is the top s + 1 bits of the value.
  const std::size_t run = index >> sub_bucket_bits_;
  const auto shift = run > 1 ? static_cast<unsigned>(run - 1) : 0u;
  const std::size_t top = index - (std::size_t{shift} << sub_bucket_bits_);
  return static_cast<std::uint64_t>(top) << shift;
}

std::uint64_t Histogram::highest_in(std::size_t index) const noexcept {
  const std::size_t run = index >> sub_bucket_bits_;
  const auto shift = run > 1 ? static_cast<unsigned>(run - 1) : 0u;
  // Never overflows: the last bucket of a 64-exponent layout ends exactly at 2^64 - 1.
  return lowest_in(index) + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::record_all(std::span<const std::uint64_t> values) noexcept {
  std::uint64_t* const counts = counts_.data();
  std::uint64_t count = count_;
  std::uint64_t low = min_;
  std::uint64_t high = max_;
  std::uint64_t sum = low_sum_;
  for (const std::uint64_t value : values) {
    ++count;
    low = value < low ? value : low;
    high = value > high ? value : high;
    // The rare paths touch sum_ in the same order as record() would, so that both give the same
    // sum to the last bit.
    if (beyond(value)) [[unlikely]] {
      ++clamped_;
      ++counts[counts_.size() - 1];
      sum_ += static_cast<long double>(value);
      continue;
    }
    ++counts[index_in_range(value)];
    if (__builtin_add_overflow(sum, value, &sum)) sum_ += 0x1p64L;
  }
  count_ = count;
  min_ = low;
  max_ = high;
  low_sum_ = sum;
}

void Histogram::record_n(std::uint64_t value, std::uint64_t count) noexcept {
  // A zero count must not move min and max, which would then describe a value never seen.
  if (count == 0) return;
  if (beyond(value)) clamped_ += count;
  counts_[index_of(value)] += count;
  count_ += count;
  // Plain comparisons rather than std::min/max: this is the hot path, and Debug builds (where
  // the tests run) do not inline.
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
  // value * count can exceed 64 bits; long double holds every integer sum below 2^64 exactly.
  sum_ += static_cast<long double>(value) * static_cast<long double>(count);
}

bool Histogram::merge(const Histogram& other) noexcept {
  if (other.sub_bucket_bits_ != sub_bucket_bits_ || other.max_exponent_ != max_exponent_) {
    return false;
  }
  // Indexing (rather than iterating two ranges) keeps merging a histogram into itself correct.
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);  // an empty histogram's min_ is UINT64_MAX: neutral
  max_ = std::max(max_, other.max_);
  sum_ += other.sum();
  clamped_ += other.clamped_;
  return true;
}

std::uint64_t Histogram::min() const noexcept {
  return count_ == 0 ? 0 : min_;
}

std::uint64_t Histogram::max() const noexcept {
  return count_ == 0 ? 0 : max_;
}

double Histogram::mean() const noexcept {
  if (count_ == 0) return 0;
  return static_cast<double>(sum() / static_cast<long double>(count_));
}

std::uint64_t Histogram::value_at_quantile(double quantile) const noexcept {
  if (count_ == 0) return 0;
  // NaN fails both comparisons below; treating it as 0 keeps the result a recorded value.
  if (!(quantile > 0)) return min();
  if (quantile >= 1) return max();
  // The rank is computed in double on purpose: q = 0.9 is slightly above 9/10 in binary, and a
  // wider type would see 0.9 * 10 as 9.000...02 and ceil it to 10; double rounds it back to 9.
  const double rank = std::ceil(quantile * static_cast<double>(count_));
  std::uint64_t target = count_;
  if (rank < static_cast<double>(count_)) {
    target = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(rank));
  }
  // A plain pointer walk: the scan is the one loop over the whole layout, and Debug builds would
  // otherwise call operator[] for every bucket.
  const std::uint64_t* const counts = counts_.data();
  const std::size_t size = counts_.size();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < size; ++i) {
    cumulative += counts[i];
    if (cumulative >= target) return std::clamp(highest_in(i), min_, max_);
  }
  return max();  // unreachable while the bucket counts add up to count_
}

nlohmann::json Histogram::summary() const {
  return {
      {"count", count_},
      {"min", min()},
      {"mean", mean()},
      {"p50", value_at_quantile(0.5)},
      {"p90", value_at_quantile(0.9)},
      {"p99", value_at_quantile(0.99)},
      {"p99_9", value_at_quantile(0.999)},
      {"p99_99", value_at_quantile(0.9999)},
      {"max", max()},
  };
}

nlohmann::json Histogram::serialize() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) buckets.push_back({i, counts_[i]});
  }
  // Below 2^64 the sum is an integer held exactly, so it is written exactly; beyond, a double is
  // as close as JSON numbers go (the mean loses nothing that matters).
  nlohmann::json sum;
  if (const long double total = this->sum(); total < 0x1p64L) {
    sum = static_cast<std::uint64_t>(total);
  } else {
    sum = static_cast<double>(total);
  }
  return {
      {"sub_bucket_bits", sub_bucket_bits_},
      {"max_exponent", max_exponent_},
      {"count", count_},
      {"min", min()},
      {"max", max()},
      {"sum", sum},
      {"clamped", clamped_},
      {"buckets", std::move(buckets)},
  };
}

// Buckets: [index, count] pairs, indices strictly increasing (so no duplicates), counts
// non-zero, and the total not overflowing.
std::optional<Histogram::BucketsInUse> Histogram::read_buckets(const nlohmann::json& buckets) {
  BucketsInUse used;
  bool any = false;
  for (const auto& entry : buckets) {
    if (!entry.is_array() || entry.size() != 2) return std::nullopt;
    const auto index = as_u64(entry[0]);
    const auto bucket = as_u64(entry[1]);
    if (!index || !bucket || *bucket == 0 || *index >= counts_.size()) return std::nullopt;
    if (any && *index <= used.last) return std::nullopt;
    if (*bucket > std::numeric_limits<std::uint64_t>::max() - used.total) return std::nullopt;
    used.total += *bucket;
    if (!any) used.first = *index;
    any = true;
    used.last = *index;
    counts_[*index] = *bucket;
  }
  return used;
}

std::optional<Histogram> Histogram::deserialize(const nlohmann::json& data) {
  // The input comes from another process: everything is checked before it is believed, and the
  // checks use only non-throwing accessors. The catch is for allocation failure alone.
  try {
    if (!data.is_object()) return std::nullopt;
    const auto sub_bucket_bits = u64_field(data, "sub_bucket_bits");
    const auto max_exponent = u64_field(data, "max_exponent");
    const auto count = u64_field(data, "count");
    const auto min = u64_field(data, "min");
    const auto max = u64_field(data, "max");
    const auto sum = sum_field(data);
    const auto clamped = u64_field(data, "clamped");
    const auto buckets = data.find("buckets");
    if (!sub_bucket_bits || !max_exponent || !count || !min || !max || !sum || !clamped ||
        buckets == data.end() || !buckets->is_array()) {
      return std::nullopt;
    }
    if (*sub_bucket_bits > kMaxSubBucketBits || *max_exponent > kMaxExponent ||
        !valid_layout(static_cast<unsigned>(*sub_bucket_bits),
                      static_cast<unsigned>(*max_exponent))) {
      return std::nullopt;
    }
    Histogram histogram(static_cast<unsigned>(*sub_bucket_bits),
                        static_cast<unsigned>(*max_exponent));

    const auto used = histogram.read_buckets(*buckets);
    if (!used) return std::nullopt;
    const auto [total, first, last] = *used;
    if (total != *count || *clamped > *count) return std::nullopt;

    if (*count == 0) {
      if (*min != 0 || *max != 0 || *sum != 0 || *clamped != 0) return std::nullopt;
      return histogram;
    }
    // min and max must be the values that put the first and last buckets in use, clamped values
    // must be the ones beyond the range and fit the last bucket, and the sum must be one that
    // count values in [min, max] can have (with slack for the rounding of a sum past 2^64).
    if (*min > *max || histogram.index_of(*min) != first || histogram.index_of(*max) != last) {
      return std::nullopt;
    }
    if ((*clamped > 0) != histogram.beyond(*max) ||
        (histogram.beyond(*min) && *clamped != *count) || *clamped > histogram.counts_.back()) {
      return std::nullopt;
    }
    const long double n = static_cast<long double>(*count);
    constexpr long double kSlack = 1e-9L;
    if (*sum < static_cast<long double>(*min) * n * (1 - kSlack) ||
        *sum > static_cast<long double>(*max) * n * (1 + kSlack)) {
      return std::nullopt;
    }
    histogram.count_ = *count;
    histogram.min_ = *min;
    histogram.max_ = *max;
    histogram.sum_ = *sum;
    histogram.clamped_ = *clamped;
    return histogram;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace pollscope
