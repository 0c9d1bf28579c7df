#include "proxy/http/hpack_huffman.h"

#include <array>
#include <cstdint>

namespace halyard::proxy::http {
namespace {

constexpr int kSymbols = 257;  // the 256 byte values and EOS
constexpr int kEos = 256;
constexpr int kMaxBits = 30;

// The code length of every symbol, from RFC 7541 Appendix B. The code is canonical (within one
// length, codes increase with the symbol; each length starts where the shorter one ended,
// shifted), so the lengths alone determine every code: they are derived below at compile time
// rather than written out twice.
constexpr std::array<std::uint8_t, kSymbols> kCodeLength = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  // 0-15
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  // 16-31
    6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,   // 32-47
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10,  // 48-63
    13, 6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,   // 64-79
    7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,   // 80-95
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,   // 96-111
    6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7,  15, 11, 14, 13, 28,  // 112-127
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  // 128-143
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  // 144-159
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  // 160-175
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  // 176-191
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  // 192-207
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  // 208-223
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  // 224-239
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  // 240-255
    30,                                                              // EOS
};

// Everything the coder needs, derived from kCodeLength.
struct Tables {
  std::array<std::uint32_t, kSymbols> code{};  // right-aligned code of each symbol
  // Canonical decoding: the symbols sorted by (length, value); for each length, the first code
  // of that length, left-aligned in 32 bits, the end of that length's range likewise (a 32-bit
  // window below it holds a code of at most that length), and where its symbols start in
  // `sorted`.
  std::array<std::uint16_t, kSymbols> sorted{};
  std::array<std::uint64_t, kMaxBits + 1> limit{};  // 64 bits: the last one is 2^32
  std::array<std::uint32_t, kMaxBits + 1> first{};
  std::array<std::uint16_t, kMaxBits + 1> offset{};
  // The fast path: the next kFastBits bits of input index this table; an entry holds the symbol
  // (low 9 bits) and its length (high bits), or 0 when the code is longer than kFastBits.
  static constexpr int kFastBits = 10;
  std::array<std::uint16_t, 1u << kFastBits> fast{};
};

constexpr Tables buildTables() {
  Tables t;
  std::array<int, kMaxBits + 1> count{};
  for (int s = 0; s < kSymbols; ++s) ++count[kCodeLength[s]];
  int pos = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    t.offset[len] = static_cast<std::uint16_t>(pos);
    for (int s = 0; s < kSymbols; ++s) {
      if (kCodeLength[s] == len) t.sorted[pos++] = static_cast<std::uint16_t>(s);
    }
  }
  std::uint32_t code = 0;
  for (int len = 1; len <= kMaxBits; ++len) {
    t.first[len] = code;
    for (int i = 0; i < count[len]; ++i) t.code[t.sorted[t.offset[len] + i]] = code + i;
    code += count[len];
    t.limit[len] = static_cast<std::uint64_t>(code) << (32 - len);
    code <<= 1;
  }
  for (int s = 0; s < kSymbols; ++s) {
    int len = kCodeLength[s];
    if (len > Tables::kFastBits) continue;
    std::uint32_t base = t.code[s] << (Tables::kFastBits - len);
    for (std::uint32_t i = 0; i < (1u << (Tables::kFastBits - len)); ++i) {
      t.fast[base + i] = static_cast<std::uint16_t>(s | (len << 9));
    }
  }
  return t;
}

constexpr Tables kTables = buildTables();

// The code must be complete: the last length's range ends exactly at 2^32.
static_assert(kTables.limit[kMaxBits] == (std::uint64_t{1} << 32));
// Spot checks against Appendix B: '0' is 00000 (5 bits), 'a' 00011, EOS 30 ones.
static_assert(kTables.code['0'] == 0x0 && kTables.code['a'] == 0x3);
static_assert(kTables.code[kEos] == 0x3fffffff);
static_assert(kTables.code[0] == 0x1ff8 && kTables.code[255] == 0x3ffffee);

}  // namespace

std::size_t huffmanEncodedLength(std::string_view text) {
  std::size_t bits = 0;
  for (unsigned char c : text) bits += kCodeLength[c];
  return (bits + 7) / 8;
}

void huffmanEncode(std::string_view text, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + huffmanEncodedLength(text));
  huffmanEncodeTo(text, out.data() + start);
}

char* huffmanEncodeTo(std::string_view text, char* p) {
  // Bits accumulate right-aligned in `acc`; once 32 or more wait, four bytes leave at once. At
  // most 31 bits wait and a code has at most 30, so 64 bits never overflow.
  std::uint64_t acc = 0;
  int n = 0;
  for (unsigned char c : text) {
    acc = (acc << kCodeLength[c]) | kTables.code[c];
    n += kCodeLength[c];
    if (n >= 32) {
      n -= 32;
      auto word = static_cast<std::uint32_t>(acc >> n);
      p[0] = static_cast<char>(word >> 24);
      p[1] = static_cast<char>(word >> 16);
      p[2] = static_cast<char>(word >> 8);
      p[3] = static_cast<char>(word);
      p += 4;
    }
  }
  while (n >= 8) {
    n -= 8;
    *p++ = static_cast<char>(acc >> n);
  }
  if (n > 0) *p++ = static_cast<char>((acc << (8 - n)) | (0xffu >> n));  // pad with EOS's ones
  return p;
}

common::Expected<std::size_t> huffmanDecode(std::string_view coded, char* out,
                                            std::size_t capacity) {
  const auto* in = reinterpret_cast<const unsigned char*>(coded.data());
  const auto* end = in + coded.size();
  // Input bits wait left-aligned in `acc`; `n` of them are real, the rest zero. With 30 or more
  // waiting any code is complete, so the input is read only below that: four bytes at once
  // while there are four, then byte by byte at the end.
  std::uint64_t acc = 0;
  int n = 0;
  std::size_t written = 0;
  for (;;) {
    if (n < kMaxBits) {
      if (end - in >= 4) {
        std::uint64_t w = (std::uint64_t{in[0]} << 24) | (std::uint64_t{in[1]} << 16) |
                          (std::uint64_t{in[2]} << 8) | in[3];
        in += 4;
        acc |= w << (32 - n);
        n += 32;
      } else {
        while (n <= 56 && in != end) {
          acc |= static_cast<std::uint64_t>(*in++) << (56 - n);
          n += 8;
        }
        if (n == 0) break;
      }
    }
    auto window = static_cast<std::uint32_t>(acc >> 32);
    int sym;
    int len;
    std::uint16_t e = kTables.fast[window >> (32 - Tables::kFastBits)];
    if (e != 0) {
      sym = e & 0x1ff;
      len = e >> 9;
    } else {
      len = Tables::kFastBits + 1;
      while (window >= kTables.limit[len]) ++len;
      sym = kTables.sorted[kTables.offset[len] + ((window >> (32 - len)) - kTables.first[len])];
      if (sym == kEos && len <= n) {  // EOS is 30 bits: never in the fast table
        return common::fail(common::ErrorKind::kProtocol,
                            "the Huffman-coded string contains the EOS symbol, which may only "
                            "appear as padding");
      }
    }
    if (len > n) {
      // Fewer bits remain than the code the zero fill completes: they must be padding, a
      // prefix of EOS (all ones) shorter than a byte.
      if (n > 7 || (acc >> (64 - n)) != (std::uint64_t{1} << n) - 1) {
        return common::fail(common::ErrorKind::kProtocol,
                            "the Huffman-coded string ends in padding that is longer than 7 bits "
                            "or not all ones; expected at most 7 one bits after the last symbol");
      }
      break;
    }
    if (written == capacity) {
      return common::fail(common::ErrorKind::kOverflow,
                          "the Huffman-coded string decodes to more bytes than the header list "
                          "may hold");
    }
    out[written++] = static_cast<char>(sym);
    acc <<= len;
    n -= len;
  }
  return written;
}

}  // namespace halyard::proxy::http
