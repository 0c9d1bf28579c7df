#include "common/json_out.h"

#include <algorithm>

namespace halyard::common {

void JsonOut::grow(size_t n) {
  const size_t capacity = std::max({size_ + n, 2 * capacity_, size_t{4096}});
  // new char[] leaves the bytes uninitialised: nothing is zero-filled on growth.
  std::unique_ptr<char[]> bigger(new char[capacity]);
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

}  // namespace halyard::common
