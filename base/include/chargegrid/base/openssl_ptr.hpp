#pragma once
// Owning pointers for OpenSSL objects: each type is freed by its own *_free function, named
// once where the alias is declared, e.g.
//   using Bio = base::OpenSslPtr<BIO, BIO_free>;
// The header needs no OpenSSL include; the caller has the declarations it names.
#include <memory>

namespace chargegrid::base {

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* object) const {
    Free(object);
  }
};

template <typename T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

}  // namespace chargegrid::base
