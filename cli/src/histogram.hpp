#pragma once

// A log-linear histogram of non-negative integer values (nanoseconds), HdrHistogram's layout:
// values are grouped by power of two, and each power of two is split into 2^sub_bucket_bits
// linear buckets, so that every recorded value is known to within a fixed relative precision
// (2^-sub_bucket_bits: 1/128 < 1% with the default 7 bits) whatever the run length. Memory is
// fixed at construction; histograms with the same layout merge exactly by adding counts.

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace pollscope {

class Histogram {
 public:
  // Values up to 2^max_exponent - 1 (about 36 minutes of nanoseconds with 42) are recorded
  // exactly to the precision; larger ones are clamped into the last bucket and counted.
  explicit Histogram(unsigned sub_bucket_bits = 7, unsigned max_exponent = 42);

  void record(std::uint64_t value) noexcept;
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
  [[nodiscard]] std::size_t index_of(std::uint64_t value) const noexcept;
  [[nodiscard]] std::uint64_t lowest_in(std::size_t index) const noexcept;
  [[nodiscard]] std::uint64_t highest_in(std::size_t index) const noexcept;

  unsigned sub_bucket_bits_;
  unsigned max_exponent_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
  std::uint64_t clamped_ = 0;
};

}  // namespace pollscope
