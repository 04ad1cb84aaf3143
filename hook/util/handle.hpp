#pragma once

#include <memory>

namespace util {

// Releases a C library's object with that library's own function.
template <auto Release>
struct ReleaseWith
{
  template <typename T>
  void
  operator()(T* object) const
  {
    Release(object);
  }
};

// A C library's object owned like any other: util::Handle<PGresult, PQclear>.
template <typename T, auto Release>
using Handle = std::unique_ptr<T, ReleaseWith<Release>>;

} // namespace util
