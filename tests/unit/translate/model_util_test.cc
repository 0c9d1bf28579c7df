// Configuration order, durations and base64 as translation reads them.
#include "translate/model_util.h"

#include <gtest/gtest.h>

namespace halyard::translate {
namespace {

config::model::ObjectMeta meta(std::string name, std::string ns, std::string created) {
  config::model::ObjectMeta m;
  m.name = std::move(name);
  m.namespace_ = std::move(ns);
  m.creation_timestamp = std::move(created);
  return m;
}

TEST(ModelUtilTest, TimestampsCompareAsInstants) {
  EXPECT_EQ(parseTimestamp("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(parseTimestamp("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parseTimestamp("2024-02-29T12:00:00.5Z").value() % 1'000'000'000, 500'000'000);
  EXPECT_FALSE(parseTimestamp(""));
  EXPECT_FALSE(parseTimestamp("yesterday"));
  EXPECT_FALSE(parseTimestamp("2024-13-01T00:00:00Z"));
  // A fractional second sorts after the whole second (a text comparison would not).
  EXPECT_LT(parseTimestamp("2024-01-01T00:00:00Z"), parseTimestamp("2024-01-01T00:00:00.5Z"));
}

TEST(ModelUtilTest, ConfigurationOrder) {
  // Oldest first, then name, then namespace; no timestamp sorts as the oldest.
  EXPECT_TRUE(createdBefore(meta("b", "x", "2024-01-01T00:00:00Z"),
                            meta("a", "x", "2024-06-01T00:00:00Z")));
  EXPECT_TRUE(createdBefore(meta("a", "y", "2024-01-01T00:00:00Z"),
                            meta("b", "x", "2024-01-01T00:00:00Z")));
  EXPECT_TRUE(createdBefore(meta("a", "x", ""), meta("a", "y", "")));
  EXPECT_TRUE(createdBefore(meta("z", "x", ""), meta("a", "x", "2020-01-01T00:00:00Z")));
  EXPECT_FALSE(createdBefore(meta("a", "x", ""), meta("a", "x", "")));
}

TEST(ModelUtilTest, Durations) {
  EXPECT_EQ(parseMillis("1s"), Millis(1000));
  EXPECT_EQ(parseMillis("0.5s"), Millis(500));
  EXPECT_EQ(parseMillis("1m30s"), Millis(90'000));
  EXPECT_EQ(parseMillis("250ms"), Millis(250));
  EXPECT_EQ(parseMillis("0s"), Millis(0));
  EXPECT_FALSE(parseMillis("-1s"));
  EXPECT_FALSE(parseMillis("soon"));
}

TEST(ModelUtilTest, Base64) {
  EXPECT_EQ(decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(decodeBase64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(decodeBase64(""), "");
  EXPECT_FALSE(decodeBase64("a$b="));
  EXPECT_FALSE(decodeBase64("aGVs=bG8"));
}

}  // namespace
}  // namespace halyard::translate
