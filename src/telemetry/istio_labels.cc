#include "telemetry/istio_labels.h"

#include <cstring>

namespace halyard::telemetry {

namespace {

using L = IstioRequestLabels;

// Istio's label order. A null member marks the two labels that are not strings.
struct Field {
  std::string_view name;
  std::string_view L::*member;
};

constexpr std::array<Field, kIstioLabelCount> kFields = {{
    {"reporter", &L::reporter},
    {"source_workload", &L::source_workload},
    {"source_canonical_service", &L::source_canonical_service},
    {"source_canonical_revision", &L::source_canonical_revision},
    {"source_workload_namespace", &L::source_workload_namespace},
    {"source_principal", &L::source_principal},
    {"source_app", &L::source_app},
    {"source_version", &L::source_version},
    {"source_cluster", &L::source_cluster},
    {"destination_workload", &L::destination_workload},
    {"destination_workload_namespace", &L::destination_workload_namespace},
    {"destination_principal", &L::destination_principal},
    {"destination_app", &L::destination_app},
    {"destination_version", &L::destination_version},
    {"destination_service", &L::destination_service},
    {"destination_canonical_service", &L::destination_canonical_service},
    {"destination_canonical_revision", &L::destination_canonical_revision},
    {"destination_service_name", &L::destination_service_name},
    {"destination_service_namespace", &L::destination_service_namespace},
    {"destination_cluster", &L::destination_cluster},
    {"request_protocol", &L::request_protocol},
    {"response_code", nullptr},
    {"grpc_response_status", &L::grpc_response_status},
    {"response_flags", nullptr},
    {"connection_security_policy", &L::connection_security_policy},
}};

// Recording a request hashes ~25 short strings, so the hash works a word at a time inline:
// std::hash per field costs about twice as much for strings this short.
constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;

uint64_t mixWord(uint64_t h, uint64_t w) {
  h = (h ^ w) * kMul;
  return h ^ (h >> 32);
}

uint64_t loadTail(const char* p, size_t n) {  // n < 8
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i) w |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return w;
}

uint64_t hashBytes(uint64_t h, std::string_view v) {
  const char* p = v.data();
  size_t n = v.size();
  h = mixWord(h, n);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mixWord(h, w);
  }
  return n > 0 ? mixWord(h, loadTail(p, n)) : h;
}

// Equal bytes: short strings (most labels) compared in two overlapping words, as
// common::JsonOut copies them.
template <class Word>
bool sameWords(const char* a, const char* b, size_t n) {  // sizeof(Word) <= n <= 2 * that
  Word a0, a1, b0, b1;
  std::memcpy(&a0, a, sizeof(Word));
  std::memcpy(&b0, b, sizeof(Word));
  std::memcpy(&a1, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&b1, b + n - sizeof(Word), sizeof(Word));
  return a0 == b0 && a1 == b1;
}

[[gnu::always_inline]] inline bool sameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (x == y) return true;
  if (n >= 8) return n <= 16 ? sameWords<uint64_t>(x, y, n) : std::memcmp(x, y, n) == 0;
  if (n >= 4) return sameWords<uint32_t>(x, y, n);
  return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

}  // namespace

bool operator==(const IstioRequestLabels& a, const IstioRequestLabels& b) {
  if (a.response_code != b.response_code || a.response_flags != b.response_flags) return false;
#pragma GCC unroll 25
  for (const Field& f : kFields) {
    if (f.member && !sameBytes(a.*f.member, b.*f.member)) return false;
  }
  return true;
}

std::array<Label, kIstioLabelCount> istioLabels(const IstioRequestLabels& l, std::string_view code,
                                                std::string_view flags) {
  std::array<Label, kIstioLabelCount> out;
  for (size_t i = 0; i < kFields.size(); ++i) {
    const Field& f = kFields[i];
    std::string_view v = f.member ? l.*f.member : (f.name == "response_code" ? code : flags);
    out[i] = Label{f.name, v};
  }
  return out;
}

IstioRequestLabels rebindIstioLabels(const IstioRequestLabels& l,
                                     const std::array<Label, kIstioLabelCount>& labels) {
  IstioRequestLabels out = l;
  for (size_t i = 0; i < kFields.size(); ++i) {
    if (kFields[i].member) out.*kFields[i].member = labels[i].value;
  }
  return out;
}

size_t IstioRequestLabelsHash::operator()(const IstioRequestLabels& l) const {
  uint64_t h = mixWord(l.response_code, l.response_flags.bits());
  for (const Field& f : kFields) {
    if (f.member) h = hashBytes(h, l.*f.member);
  }
  return static_cast<size_t>(h);
}

}  // namespace halyard::telemetry
