// IstioRequestLabels equality (the worker's memo of the last label set): equal whatever storage
// the strings are in, unequal when any one field differs, at any length and any byte.
#include "telemetry/istio_labels.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace halyard::telemetry {
namespace {

IstioRequestLabels sample(std::vector<std::string>& storage) {
  storage = {"destination",
             "reviews-v1",
             "reviews",
             "v1",
             "default",
             "spiffe://cluster.local/ns",
             "reviews.default.svc.cluster.local",
             "mutual_tls"};
  IstioRequestLabels l;
  l.reporter = storage[0];
  l.destination_workload = storage[1];
  l.destination_app = storage[2];
  l.destination_version = storage[3];
  l.destination_workload_namespace = storage[4];
  l.source_principal = storage[5];
  l.destination_service = storage[6];
  l.connection_security_policy = storage[7];
  l.response_code = 200;
  return l;
}

TEST(IstioRequestLabels, EqualInOtherStorage) {
  std::vector<std::string> a_storage, b_storage;
  const IstioRequestLabels a = sample(a_storage);
  const IstioRequestLabels b = sample(b_storage);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == a);
}

TEST(IstioRequestLabels, AnyFieldDiffersAtAnyLengthAndByte) {
  std::vector<std::string> storage;
  const IstioRequestLabels base = sample(storage);
  for (size_t size = 0; size <= 40; ++size) {
    const std::string value(size, 'v');
    IstioRequestLabels a = base;
    a.destination_service = value;
    for (size_t at = 0; at < size; ++at) {
      std::string other = value;
      other[at] = 'w';
      IstioRequestLabels b = a;
      b.destination_service = other;
      ASSERT_FALSE(a == b) << "size " << size << " byte " << at;
    }
    std::string same = value;  // other storage, same bytes
    IstioRequestLabels b = a;
    b.destination_service = same;
    ASSERT_TRUE(a == b) << "size " << size;
    b.destination_service = value + "v";
    ASSERT_FALSE(a == b) << "size " << size;
  }
  IstioRequestLabels b = base;
  b.response_code = 503;
  EXPECT_FALSE(base == b);
  b = base;
  b.grpc_response_status = "0";
  EXPECT_FALSE(base == b);
  b = base;
  b.source_cluster = "other";
  EXPECT_FALSE(base == b);
}

}  // namespace
}  // namespace halyard::telemetry
