#include "telemetry/response_flags.h"

#include <array>

namespace halyard::telemetry {

namespace {

constexpr std::array<std::string_view, static_cast<size_t>(ResponseFlag::kCount)> kShortNames = {
    "LH",   "UH",   "UT",   "LR",   "UR", "UF",  "UC", "UO", "NR",  "DI",
    "FI",   "RL",   "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE", "UMSDR",
    "RFCF", "NFCF", "DT",   "UPE",  "NC", "OM",  "DF", "DO", "DR",  "UDO",
};

}  // namespace

std::string_view shortName(ResponseFlag flag) {
  const auto i = static_cast<size_t>(flag);
  return i < kShortNames.size() ? kShortNames[i] : std::string_view("-");
}

void ResponseFlags::appendTo(std::string& out) const {
  if (bits_ == 0) {
    out.push_back('-');
    return;
  }
  bool first = true;
  for (size_t i = 0; i < kShortNames.size(); ++i) {
    if ((bits_ & (uint32_t{1} << i)) == 0) continue;
    if (!first) out.push_back(',');
    out.append(kShortNames[i]);
    first = false;
  }
}

std::string ResponseFlags::toString() const {
  std::string s;
  appendTo(s);
  return s;
}

}  // namespace halyard::telemetry
