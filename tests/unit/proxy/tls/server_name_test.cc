#include "proxy/tls/server_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace halyard::proxy::tls {
namespace {

// The extension body for one entry of `type` naming `name`.
std::vector<unsigned char> extension(const std::string& name, unsigned char type = 0) {
  const size_t entry = 3 + name.size();
  std::vector<unsigned char> out(5 + name.size());
  out[0] = static_cast<unsigned char>(entry >> 8);
  out[1] = static_cast<unsigned char>(entry & 0xff);
  out[2] = type;
  out[3] = static_cast<unsigned char>(name.size() >> 8);
  out[4] = static_cast<unsigned char>(name.size() & 0xff);
  for (size_t i = 0; i < name.size(); ++i) out[5 + i] = static_cast<unsigned char>(name[i]);
  return out;
}

TEST(ServerName, HostNameIsLowercased) {
  EXPECT_EQ(parseServerNameExtension(extension("Secure.Example.COM")), "secure.example.com");
}

TEST(ServerName, LengthsThatDisagreeAreMalformed) {
  auto bytes = extension("a.example.com");
  bytes[1] += 1;  // the list claims one byte more than there is
  EXPECT_EQ(parseServerNameExtension(bytes), std::nullopt);
  bytes = extension("a.example.com");
  bytes.pop_back();  // the name is cut short
  EXPECT_EQ(parseServerNameExtension(bytes), std::nullopt);
  EXPECT_EQ(parseServerNameExtension(std::vector<unsigned char>{}), std::nullopt);
  EXPECT_EQ(parseServerNameExtension(std::vector<unsigned char>{0, 0}), std::nullopt);
}

TEST(ServerName, EmptyOrNulNamesAndOtherTypesAreRefused) {
  EXPECT_EQ(parseServerNameExtension(extension("")), std::nullopt);
  EXPECT_EQ(parseServerNameExtension(extension(std::string("a\0b", 3))), std::nullopt);
  EXPECT_EQ(parseServerNameExtension(extension("a.example.com", 7)), std::nullopt);
}

}  // namespace
}  // namespace halyard::proxy::tls
