// Fuzzes the HPACK decoder: arbitrary bytes as a sequence of header blocks into one decoder
// (so the dynamic table carries state from block to block). Checks that decoding never reads
// or writes out of bounds (the sanitizers), that every decoded field re-encodes with our
// encoder and decodes again to the same fields, and that the two dynamic tables agree.
//
// Input layout: byte 0 picks the table size and the list limit; the rest is cut into blocks
// at each "\xff\x00\xff" (a sequence HPACK blocks rarely need, so most inputs stay one block).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "proxy/http/h2_session_core.h"
#include "proxy/http/hpack_decoder.h"
#include "proxy/http/hpack_encoder.h"

namespace {

using namespace halyard::proxy::http;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::uint32_t kTables[] = {0, 64, 256, 4096};
  static constexpr std::uint32_t kLists[] = {64, 1024, 16384, 65536};
  std::uint32_t table = kTables[data[0] & 3];
  std::uint32_t list = kLists[(data[0] >> 2) & 3];
  bool resize = (data[0] & 0x10) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  // With HTTP/2's field check: what comes flagged as checked must pass it.
  HpackDecoder decoder(4096, list, &h2WellFormedField);
  if (table != 4096) {
    decoder.setMaxTableSize(table);
  }
  HpackEncoder encoder(4096);
  HpackDecoder check(4096, 1 << 20);
  std::vector<HpackField> fields;
  std::vector<HpackField> again;
  std::string encoded;
  int n = 0;
  while (!rest.empty()) {
    std::size_t cut = rest.find(std::string_view("\xff\x00\xff", 3));
    std::string_view block = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 3);
    if (resize && ++n == 2) encoder.setPeerMaxTableSize(table);
    fields.clear();
    auto r = decoder.decode(block, fields);
    if (!r.ok() && r.error().kind != halyard::common::ErrorKind::kOverflow) break;
    FUZZ_CHECK(decoder.table().size() <= decoder.table().maxSize());
    for (std::size_t i = 0; i < fields.size() && i < 64; ++i) {
      if ((decoder.checkedFields() >> i) & 1) {
        FUZZ_CHECK(h2WellFormedField(fields[i].name, fields[i].value));
      }
    }
    // Whatever came out goes back through our own encoder and decoder unchanged.
    encoded.clear();
    encoder.encode(fields, encoded);
    again.clear();
    auto r2 = check.decode(encoded, again);
    FUZZ_CHECK(r2.ok());
    FUZZ_CHECK(again.size() == fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
      FUZZ_CHECK(again[i].name == fields[i].name);
      FUZZ_CHECK(again[i].value == fields[i].value);
    }
    FUZZ_CHECK(check.table().count() == encoder.table().count());
    FUZZ_CHECK(check.table().size() == encoder.table().size());
  }
  return 0;
}
