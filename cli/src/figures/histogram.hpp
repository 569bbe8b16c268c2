#pragma once

// A log-linear histogram of non-negative integer values (nanoseconds), HdrHistogram's layout:
// values are grouped by power of two, and each power of two is split into 2^sub_bucket_bits
// linear buckets, so that every recorded value is known to within a fixed relative precision
// (2^-sub_bucket_bits: 1/128 < 1% with the default 7 bits) whatever the run length. Memory is
// fixed at construction; histograms with the same layout merge exactly by adding counts.

#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace pollscope {

class Histogram {
 public:
  // Values up to 2^max_exponent - 1 (about 36 minutes of nanoseconds with 42) are recorded
  // exactly to the precision; larger ones are clamped into the last bucket and counted.
  explicit Histogram(unsigned sub_bucket_bits = 7, unsigned max_exponent = 42);

  // Inline, and free of floating point: it runs once per message, and its cost is part of
  // what pollscope reports as its own overhead.
  void record(std::uint64_t value) noexcept {
    if (beyond(value)) [[unlikely]] {
      record_n(value, 1);
      return;
    }
    ++counts_[index_in_range(value)];
    ++count_;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
    if (__builtin_add_overflow(low_sum_, value, &low_sum_)) carry();
  }
  // Records each of `values`: the same as record() one by one, at about half the cost, since the
  // running count, bounds and sum stay in registers for the whole batch.
  void record_all(std::span<const std::uint64_t> values) noexcept;
  void record_n(std::uint64_t value, std::uint64_t count) noexcept;
  // Adds `other`'s counts; false (and nothing changes) when the layouts differ.
  bool merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept;  // 0 when empty
  [[nodiscard]] std::uint64_t max() const noexcept;  // 0 when empty
  [[nodiscard]] double mean() const noexcept;        // 0 when empty
  // The value at `quantile` in [0, 1]: the highest value equivalent to that bucket's lowest
  // (HdrHistogram's convention, so that p100 == max within the precision); 0 when empty.
  [[nodiscard]] std::uint64_t value_at_quantile(double quantile) const noexcept;
  [[nodiscard]] std::uint64_t clamped() const noexcept { return clamped_; }

  // {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "p99_99", "max"}: finite numbers only.
  [[nodiscard]] nlohmann::json summary() const;

  // A compact, lossless form for passing between processes (only non-zero buckets).
  [[nodiscard]] nlohmann::json serialize() const;
  [[nodiscard]] static std::optional<Histogram> deserialize(const nlohmann::json& data);

 private:
  [[nodiscard]] bool beyond(std::uint64_t value) const noexcept {
    return max_exponent_ < 64 && (value >> max_exponent_) != 0;
  }
  // The bucket of a value within the range. Or-ing in the exact range's bits makes its values
  // come out with a shift of 0 (their own bucket) without a branch.
  [[nodiscard]] std::size_t index_in_range(std::uint64_t value) const noexcept {
    const std::uint64_t exact = (std::uint64_t{2} << sub_bucket_bits_) - 1;
    const auto shift = static_cast<unsigned>(std::bit_width(value | exact)) - sub_bucket_bits_ - 1;
    return (std::size_t{shift} << sub_bucket_bits_) + static_cast<std::size_t>(value >> shift);
  }
  [[nodiscard]] std::size_t index_of(std::uint64_t value) const noexcept {
    return beyond(value) ? counts_.size() - 1 : index_in_range(value);
  }
  struct BucketsInUse {
    std::uint64_t total = 0;
    std::size_t first = 0;
    std::size_t last = 0;
  };
  // Reads serialized buckets into counts_; none when they are malformed.
  std::optional<BucketsInUse> read_buckets(const nlohmann::json& buckets);
  void carry() noexcept;  // low_sum_ wrapped around: 2^64 more in sum_
  [[nodiscard]] long double sum() const noexcept {
    return sum_ + static_cast<long double>(low_sum_);
  }
  [[nodiscard]] std::uint64_t lowest_in(std::size_t index) const noexcept;
  [[nodiscard]] std::uint64_t highest_in(std::size_t index) const noexcept;

  unsigned sub_bucket_bits_;
  unsigned max_exponent_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  // The sum of the values: record() adds into a 64-bit integer, and each time it wraps, 2^64
  // goes into the long double (which holds every integer below 2^64 exactly).
  long double sum_ = 0;
  std::uint64_t low_sum_ = 0;
  std::uint64_t clamped_ = 0;
};

}  // namespace pollscope
