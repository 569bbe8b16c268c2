#include "figures/histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pollscope {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// The default layout's bucket count: (42 - 7 + 1) * 2^7.
constexpr std::size_t kDefaultBuckets = 36 * 128;

// A fixed-seed generator (splitmix64) so that the streams are reproducible and cheap.
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// Every quantile the comparisons below look at, the awkward edges included.
const std::vector<double> kQuantiles = {0.0,  1e-9, 0.01,  0.1,    0.25,    0.5,       0.75, 0.9,
                                        0.95, 0.99, 0.999, 0.9999, 0.99999, 1 - 1e-12, 1.0};

void expect_same_statistics(const Histogram& actual, const Histogram& expected) {
  EXPECT_EQ(actual.count(), expected.count());
  EXPECT_EQ(actual.min(), expected.min());
  EXPECT_EQ(actual.max(), expected.max());
  EXPECT_DOUBLE_EQ(actual.mean(), expected.mean());
  EXPECT_EQ(actual.clamped(), expected.clamped());
  for (double q : kQuantiles) {
    EXPECT_EQ(actual.value_at_quantile(q), expected.value_at_quantile(q)) << "q = " << q;
  }
  EXPECT_EQ(actual.serialize(), expected.serialize());
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram histogram;
  // Below 2^(s+1) = 256 every value has a bucket of its own.
  for (std::uint64_t v = 0; v < 256; ++v) {
    Histogram single;
    single.record(v);
    single.record(1000);  // so that clamping to max() cannot hide the bucket's width
    EXPECT_EQ(single.value_at_quantile(0.5), v);
    histogram.record(v);
  }
  EXPECT_EQ(histogram.count(), 256u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 255u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 127.5);
  EXPECT_EQ(histogram.serialize()["buckets"].size(), 256u);
}

TEST(HistogramTest, QuantileIsTheSmallestBucketReachingCeilOfQTimesCount) {
  Histogram histogram;
  for (std::uint64_t v = 1; v <= 10; ++v) histogram.record(v);
  EXPECT_EQ(histogram.value_at_quantile(0.0), 1u);
  EXPECT_EQ(histogram.value_at_quantile(0.05), 1u);  // ceil(0.5) = 1
  EXPECT_EQ(histogram.value_at_quantile(0.1), 1u);
  EXPECT_EQ(histogram.value_at_quantile(0.11), 2u);  // ceil(1.1) = 2
  EXPECT_EQ(histogram.value_at_quantile(0.5), 5u);
  EXPECT_EQ(histogram.value_at_quantile(0.9), 9u);  // 0.9 is a hair above 9/10 in binary
  EXPECT_EQ(histogram.value_at_quantile(0.91), 10u);
  EXPECT_EQ(histogram.value_at_quantile(1.0), 10u);
}

TEST(HistogramTest, QuantilesOutsideZeroOneGiveMinAndMax) {
  Histogram histogram;
  histogram.record(300);
  histogram.record(123456789);
  EXPECT_EQ(histogram.value_at_quantile(-1.0), 300u);
  EXPECT_EQ(histogram.value_at_quantile(std::nan("")), 300u);
  EXPECT_EQ(histogram.value_at_quantile(2.0), 123456789u);
  EXPECT_EQ(histogram.value_at_quantile(std::numeric_limits<double>::infinity()), 123456789u);
}

TEST(HistogramTest, ReportedValueIsWithinOnePercentOverOneNanosecondToTwelveDecades) {
  // A geometric sweep from 1 ns to 10^12 ns (step 0.2 %), plus the lowest and highest value of
  // every bucket in that span: a bucket's lowest value is the one its report is furthest from.
  std::set<std::uint64_t> values;
  for (double v = 1; v <= 1e12; v *= 1.002) values.insert(static_cast<std::uint64_t>(v));
  for (unsigned e = 8; e < 40; ++e) {
    const std::uint64_t width = std::uint64_t{1} << (e - 7);
    for (std::uint64_t k = 0; k < 128; ++k) {
      const std::uint64_t lowest = (std::uint64_t{1} << e) + k * width;
      values.insert({lowest, lowest + width - 1});
    }
  }
  values.insert(1'000'000'000'000);
  ASSERT_GT(values.size(), 18000u);

  // Recording from the largest down makes each new value the minimum, so a quantile of rank 1
  // reports exactly its bucket's highest equivalent value: clamping to min() cannot help it and
  // one histogram serves the whole sweep. A value far above keeps max() out of the way too.
  Histogram histogram;
  histogram.record((std::uint64_t{1} << 42) - 1);
  constexpr double kRankOne = 1e-12;  // ceil(1e-12 * count) = 1
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    const std::uint64_t v = *it;
    histogram.record(v);
    const std::uint64_t reported = histogram.value_at_quantile(kRankOne);
    ASSERT_GE(reported, v);  // the highest equivalent value, never below
    ASSERT_LE(reported - v, v / 100) << "v = " << v;
    ASSERT_LE(reported - v, v / 128) << "v = " << v;  // the layout's actual bound, 2^-7
  }
}

TEST(HistogramTest, UniformDistributionQuantilesAreWithinOnePercent) {
  Histogram histogram;
  for (std::uint64_t v = 1; v <= 100000; ++v) histogram.record(v);
  EXPECT_EQ(histogram.count(), 100000u);
  EXPECT_EQ(histogram.min(), 1u);
  EXPECT_EQ(histogram.max(), 100000u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 50000.5);
  EXPECT_NEAR(static_cast<double>(histogram.value_at_quantile(0.5)), 50000, 500);
  EXPECT_NEAR(static_cast<double>(histogram.value_at_quantile(0.9)), 90000, 900);
  EXPECT_NEAR(static_cast<double>(histogram.value_at_quantile(0.99)), 99000, 990);
  EXPECT_NEAR(static_cast<double>(histogram.value_at_quantile(0.999)), 99900, 999);
  EXPECT_EQ(histogram.value_at_quantile(1.0), 100000u);

  const nlohmann::json summary = histogram.summary();
  EXPECT_EQ(summary["count"], 100000u);
  EXPECT_EQ(summary["p50"], histogram.value_at_quantile(0.5));
  EXPECT_EQ(summary["p99_99"], histogram.value_at_quantile(0.9999));
  EXPECT_EQ(summary["max"], 100000u);
}

TEST(HistogramTest, QuantilesAreMonotonicAndWithinMinAndMax) {
  Histogram histogram;
  SplitMix random(7);
  for (int i = 0; i < 10000; ++i) histogram.record(random.next() >> 30);  // up to 2^34
  std::uint64_t previous = 0;
  for (double q : kQuantiles) {
    const std::uint64_t value = histogram.value_at_quantile(q);
    EXPECT_GE(value, previous) << "q = " << q;
    EXPECT_GE(value, histogram.min());
    EXPECT_LE(value, histogram.max());
    previous = value;
  }
}

TEST(HistogramTest, EmptyHistogramReportsZerosAndFiniteSummary) {
  const Histogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  EXPECT_EQ(histogram.mean(), 0.0);
  EXPECT_EQ(histogram.clamped(), 0u);
  for (double q : kQuantiles) EXPECT_EQ(histogram.value_at_quantile(q), 0u);

  const nlohmann::json summary = histogram.summary();
  for (const char* key : {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "p99_99", "max"}) {
    ASSERT_TRUE(summary.contains(key)) << key;
    ASSERT_TRUE(summary[key].is_number()) << key;
    EXPECT_EQ(summary[key].get<double>(), 0.0) << key;
  }
  EXPECT_EQ(summary.size(), 9u);
}

TEST(HistogramTest, SummaryIsFiniteForExtremeValues) {
  Histogram histogram;
  histogram.record_n(kU64Max, kU64Max / 2);
  histogram.record(0);
  const nlohmann::json summary = histogram.summary();
  for (const auto& [key, value] : summary.items()) {
    ASSERT_TRUE(value.is_number()) << key;
    EXPECT_TRUE(std::isfinite(value.get<double>())) << key;
  }
  EXPECT_EQ(summary["max"], kU64Max);
  EXPECT_EQ(summary["min"], 0u);
}

TEST(HistogramTest, ValuesBeyondTheRangeAreClampedIntoTheLastBucketAndCounted) {
  Histogram histogram(7, 20);  // values up to 2^20 - 1
  histogram.record((1u << 20) - 1);
  EXPECT_EQ(histogram.clamped(), 0u);
  histogram.record(1u << 20);
  histogram.record_n(std::uint64_t{1} << 40, 3);
  histogram.record(kU64Max);
  EXPECT_EQ(histogram.clamped(), 5u);
  EXPECT_EQ(histogram.count(), 6u);
  // min and max stay exact; the clamped values share the last bucket.
  EXPECT_EQ(histogram.min(), (1u << 20) - 1);
  EXPECT_EQ(histogram.max(), kU64Max);
  EXPECT_EQ(histogram.value_at_quantile(1.0), kU64Max);
  const nlohmann::json buckets = histogram.serialize()["buckets"];
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0][0], (20u - 7u + 1u) * 128u - 1u);
  EXPECT_EQ(buckets[0][1], 6u);
  // The clamped bucket reports the top of the range, held within [min, max].
  EXPECT_EQ(histogram.value_at_quantile(0.5), (1u << 20) - 1);
}

TEST(HistogramTest, FullRangeLayoutNeverClamps) {
  Histogram histogram(7, 64);
  histogram.record(kU64Max);
  histogram.record(0);
  EXPECT_EQ(histogram.clamped(), 0u);
  EXPECT_EQ(histogram.value_at_quantile(0.5), 0u);
  EXPECT_EQ(histogram.value_at_quantile(1.0), kU64Max);
}

TEST(HistogramTest, ConstructorRejectsImpossibleLayouts) {
  EXPECT_THROW(Histogram(0, 42), std::invalid_argument);
  EXPECT_THROW(Histogram(17, 42), std::invalid_argument);
  EXPECT_THROW(Histogram(7, 7), std::invalid_argument);  // no room above the exact range
  EXPECT_THROW(Histogram(7, 65), std::invalid_argument);
  EXPECT_NO_THROW(Histogram(1, 2));
  EXPECT_NO_THROW(Histogram(16, 64));
}

TEST(HistogramTest, MergedQuantilesEqualThoseOfOneHistogramThatRecordedBothStreams) {
  Histogram left;
  Histogram right;
  Histogram both;
  SplitMix random(42);
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t fast = 1000 + random.next() % 50000;
    const std::uint64_t slow = (random.next() >> 24) + 1;  // up to 2^40, some clamped
    left.record(fast);
    right.record(slow);
    both.record(fast);
    both.record(slow);
  }
  right.record(std::uint64_t{1} << 50);
  both.record(std::uint64_t{1} << 50);
  ASSERT_TRUE(left.merge(right));
  expect_same_statistics(left, both);
}

TEST(HistogramTest, MergeWithEmptyIsNeutralInBothDirections) {
  Histogram filled;
  for (std::uint64_t v = 5; v < 5000; v += 7) filled.record(v);
  const Histogram original = filled;

  ASSERT_TRUE(filled.merge(Histogram{}));
  expect_same_statistics(filled, original);

  Histogram empty;
  ASSERT_TRUE(empty.merge(original));
  expect_same_statistics(empty, original);
}

TEST(HistogramTest, MergeRefusesADifferentLayoutAndChangesNothing) {
  Histogram histogram;
  histogram.record(10);
  const Histogram original = histogram;
  Histogram other_bits(8, 42);
  other_bits.record(20);
  Histogram other_range(7, 40);
  other_range.record(30);
  EXPECT_FALSE(histogram.merge(other_bits));
  EXPECT_FALSE(histogram.merge(other_range));
  expect_same_statistics(histogram, original);
}

TEST(HistogramTest, RecordNEqualsRecordingTheValueNTimes) {
  Histogram repeated;
  Histogram batched;
  for (std::uint64_t v : {3u, 700u, 123456u}) {
    for (int i = 0; i < 1000; ++i) repeated.record(v);
    batched.record_n(v, 1000);
  }
  expect_same_statistics(batched, repeated);
}

// The batch and the one-by-one paths agree on everything, including values beyond the range
// and sums that pass 2^64 (where each keeps its carry differently).
TEST(HistogramTest, RecordAllEqualsRecordingEachValue) {
  std::vector<std::uint64_t> values = {0,
                                       1,
                                       255,
                                       256,
                                       257,
                                       4096,
                                       123456789,
                                       kU64Max,
                                       std::uint64_t{1} << 42,
                                       (std::uint64_t{1} << 42) - 1};
  for (std::uint64_t v = 1; v < (std::uint64_t{1} << 40); v = v * 3 + 1) values.push_back(v);
  for (int i = 0; i < 5; ++i) values.push_back(kU64Max - static_cast<std::uint64_t>(i));
  Histogram one_by_one;
  for (std::uint64_t v : values) one_by_one.record(v);
  Histogram batched;
  batched.record_all(std::span(values).first(7));
  batched.record_all(std::span(values).subspan(7));
  batched.record_all({});
  expect_same_statistics(batched, one_by_one);
  EXPECT_EQ(batched.clamped(), one_by_one.clamped());
  EXPECT_EQ(batched.clamped(), 7u);  // 2^42, and six values near kU64Max
  EXPECT_EQ(batched.serialize(), one_by_one.serialize());
}

TEST(HistogramTest, RecordNWithZeroCountChangesNothing) {
  Histogram histogram;
  histogram.record_n(5000, 0);
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  histogram.record(10);
  histogram.record_n(1, 0);
  histogram.record_n(kU64Max, 0);
  EXPECT_EQ(histogram.min(), 10u);
  EXPECT_EQ(histogram.max(), 10u);
  EXPECT_EQ(histogram.clamped(), 0u);
}

TEST(HistogramTest, RecordNKeepsTheMeanExactForLargeProducts) {
  Histogram histogram;
  // 2^41 * 2^30 overflows 64 bits; the mean must not.
  histogram.record_n(std::uint64_t{1} << 41, std::uint64_t{1} << 30);
  histogram.record_n(std::uint64_t{1} << 39, std::uint64_t{1} << 30);
  EXPECT_DOUBLE_EQ(histogram.mean(), static_cast<double>((std::uint64_t{5} << 38)));
}

TEST(HistogramTest, SerializeRoundTripsExactly) {
  Histogram histogram;
  SplitMix random(1);
  for (int i = 0; i < 5000; ++i) histogram.record(random.next() >> 21);  // half clamped
  histogram.record(0);
  ASSERT_GT(histogram.clamped(), 0u);
  const nlohmann::json serialized = histogram.serialize();
  // Through text, as between processes.
  const auto restored = Histogram::deserialize(nlohmann::json::parse(serialized.dump()));
  ASSERT_TRUE(restored.has_value());
  expect_same_statistics(*restored, histogram);
  EXPECT_EQ(restored->serialize().dump(), serialized.dump());
}

TEST(HistogramTest, SerializeRoundTripsEmptyAndHugeSums) {
  const auto empty = Histogram::deserialize(Histogram{}.serialize());
  ASSERT_TRUE(empty.has_value());
  expect_same_statistics(*empty, Histogram{});

  // A sum past 2^64 is written as a double, and still read back.
  Histogram huge;
  huge.record_n(kU64Max, 1000);
  const auto restored = Histogram::deserialize(nlohmann::json::parse(huge.serialize().dump()));
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->count(), 1000u);
  EXPECT_DOUBLE_EQ(restored->mean(), huge.mean());
}

TEST(HistogramTest, SerializeHasTheDocumentedKeys) {
  Histogram histogram(7, 30);
  histogram.record(3);
  histogram.record(3);
  histogram.record(100);
  const nlohmann::json expected = {
      {"sub_bucket_bits", 7}, {"max_exponent", 30},
      {"count", 3},           {"min", 3},
      {"max", 100},           {"sum", 106},
      {"clamped", 0},         {"buckets", {{3, 2}, {100, 1}}},  // below 2^8: exact
  };
  EXPECT_EQ(histogram.serialize(), expected);
}

// A valid serialization to break, one field at a time.
nlohmann::json valid_serialization() {
  Histogram histogram(7, 20);
  histogram.record(5);
  histogram.record(1000);
  histogram.record(1u << 25);  // clamped
  return histogram.serialize();
}

TEST(HistogramTest, DeserializeAcceptsTheUnbrokenBaseline) {
  EXPECT_TRUE(Histogram::deserialize(valid_serialization()).has_value());
}

TEST(HistogramTest, DeserializeRejectsMalformedInput) {
  using Json = nlohmann::json;
  struct Case {
    const char* what;
    Json data;
  };
  std::vector<Case> cases;
  const auto broken = [&](const char* what, auto&& mutate) {
    Json data = valid_serialization();
    mutate(data);
    cases.push_back({what, std::move(data)});
  };
  cases.push_back({"not an object: array", Json::array({1, 2})});
  cases.push_back({"not an object: string", "histogram"});
  cases.push_back({"not an object: null", nullptr});
  for (const char* key :
       {"sub_bucket_bits", "max_exponent", "count", "min", "max", "sum", "clamped", "buckets"}) {
    broken(key, [key](Json& d) { d.erase(key); });                       // missing
    broken(key, [key](Json& d) { d[key] = "7"; });                       // wrong type: string
    broken(key, [key](Json& d) { d[key] = -1; });                        // negative
    broken(key, [key](Json& d) { d[key] = nullptr; });                   // wrong type: null
    broken(key, [key](Json& d) { d[key] = Json::object({{"a", 1}}); });  // wrong type: object
  }
  broken("count as float", [](Json& d) { d["count"] = 3.0; });
  broken("sum NaN", [](Json& d) { d["sum"] = std::nan(""); });
  broken("sum infinite", [](Json& d) { d["sum"] = std::numeric_limits<double>::infinity(); });
  broken("sum above max * count", [](Json& d) { d["sum"] = std::uint64_t{1} << 40; });
  broken("sum below min * count", [](Json& d) { d["sum"] = 1; });
  broken("sub_bucket_bits zero", [](Json& d) { d["sub_bucket_bits"] = 0; });
  broken("sub_bucket_bits huge", [](Json& d) { d["sub_bucket_bits"] = 40; });
  broken("sub_bucket_bits wraps unsigned", [](Json& d) { d["sub_bucket_bits"] = 1ULL << 32 | 7; });
  broken("max_exponent too small", [](Json& d) { d["max_exponent"] = 7; });
  broken("max_exponent above 64", [](Json& d) { d["max_exponent"] = 65; });
  broken("layout changed under the buckets", [](Json& d) { d["max_exponent"] = 30; });
  broken("bucket index out of range", [](Json& d) { d["buckets"].push_back({(14 * 128), 1}); });
  broken("bucket index negative", [](Json& d) { d["buckets"][0][0] = -1; });
  broken("bucket index float", [](Json& d) { d["buckets"][0][0] = 5.0; });
  broken("bucket not a pair", [](Json& d) { d["buckets"][0] = {5}; });
  broken("bucket a triple", [](Json& d) { d["buckets"][0] = {5, 1, 1}; });
  broken("bucket an object", [](Json& d) { d["buckets"][0] = Json::object({{"5", 1}}); });
  broken("bucket count zero", [](Json& d) { d["buckets"].push_back({1500, 0}); });
  broken("bucket count string", [](Json& d) { d["buckets"][1][1] = "1"; });
  broken("duplicate bucket", [](Json& d) {
    d["buckets"].push_back(d["buckets"][2]);
    d["count"] = 4;
    d["clamped"] = 2;
  });
  broken("unsorted buckets", [](Json& d) { std::swap(d["buckets"][0], d["buckets"][1]); });
  broken("counts not adding up", [](Json& d) { d["count"] = 4; });
  broken("counts overflowing", [](Json& d) {
    d["buckets"][0][1] = kU64Max;
    d["count"] = 2;  // what the total would wrap to
  });
  broken("min above max", [](Json& d) { d["min"] = 2000; });
  broken("min not in the first bucket", [](Json& d) { d["min"] = 4; });
  broken("max not in the last bucket", [](Json& d) { d["max"] = 1000; });
  broken("clamped above count", [](Json& d) { d["clamped"] = 4; });
  broken("clamped without a value beyond", [](Json& d) { d["clamped"] = 0; });
  broken("clamped above the last bucket", [](Json& d) { d["clamped"] = 2; });
  broken("empty with a min", [](Json& d) {
    d = Histogram{}.serialize();
    d["min"] = 1;
  });
  broken("empty with a sum", [](Json& d) {
    d = Histogram{}.serialize();
    d["sum"] = 1;
  });

  for (const Case& c : cases) {
    std::optional<Histogram> result;
    EXPECT_NO_THROW(result = Histogram::deserialize(c.data)) << c.what;
    EXPECT_FALSE(result.has_value()) << c.what << ": " << c.data.dump();
  }
}

TEST(HistogramTest, DeserializeNeverThrowsOnRandomlyMutatedInput) {
  // Beyond the named cases: replace one scalar anywhere with a random one, many times.
  SplitMix random(99);
  const nlohmann::json baseline = valid_serialization();
  // Primitives only: unflatten() refuses anything else.
  const std::vector<nlohmann::json> replacements = {
      nullptr, true, -3, 0, 1, 5, 7, 20, 64, 1791, 1ULL << 63, kU64Max, 0.5, "x"};
  const nlohmann::json flat = baseline.flatten();
  std::vector<std::string> pointers;
  for (const auto& [pointer, value] : flat.items()) pointers.push_back(pointer);
  for (int i = 0; i < 1000; ++i) {
    nlohmann::json flat_copy = flat;
    flat_copy[pointers[random.next() % pointers.size()]] =
        replacements[random.next() % replacements.size()];
    const nlohmann::json mutated = flat_copy.unflatten();
    EXPECT_NO_THROW(static_cast<void>(Histogram::deserialize(mutated)));
  }
}

TEST(HistogramTest, MemoryIsFixedByTheLayoutWhateverTheRunLength) {
  // Two million values spread over every magnitude, clamped ones included, then a trillion more
  // in bulk: the serialized form can never list more buckets than the layout has, and every
  // index is inside it. (Two million rather than ten keeps the Debug build's test fast; each
  // record() touches one preallocated counter, so the count changes nothing but time.)
  Histogram histogram;
  SplitMix random(2024);
  for (int i = 0; i < 2'000'000; ++i) {
    const std::uint64_t raw = random.next();
    histogram.record(raw >> (raw & 63));  // every magnitude from 1 to 2^64
  }
  for (std::uint64_t v = 1; v < kU64Max / 3; v *= 3) histogram.record_n(v, 25'000'000'000);
  EXPECT_EQ(histogram.count(), 2'000'000u + 40u * 25'000'000'000u);
  const nlohmann::json buckets = histogram.serialize()["buckets"];
  EXPECT_GT(buckets.size(), kDefaultBuckets / 2);  // the stream did reach most of the layout
  EXPECT_LE(buckets.size(), kDefaultBuckets);
  for (const auto& bucket : buckets) EXPECT_LT(bucket[0].get<std::uint64_t>(), kDefaultBuckets);
}

}  // namespace
}  // namespace pollscope
