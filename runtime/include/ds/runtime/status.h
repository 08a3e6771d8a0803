//===- status.h - Error reporting for the ds runtime ------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The runtime reports every user-facing problem (a corrupt artifact, a bad
// .npy file, a mismatched input) as a value: `Status` for operations without
// a result and `Expected<T>` for those with one. The runtime itself never
// throws; only the standard library may (std::bad_alloc), and the C API and
// the ds-run driver catch that at their boundary.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_STATUS_H
#define DS_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace ds::runtime {

/// Success, or failure with a lowercase message without a final period.
class [[nodiscard]] Status {
public:
  /// Returns success.
  static Status success() { return Status(); }
  /// Returns a failure carrying `message`.
  static Status failure(std::string message) {
    Status status;
    status.hasFailed = true;
    status.errorMessage = std::move(message);
    return status;
  }

  bool failed() const { return hasFailed; }
  bool succeeded() const { return !hasFailed; }
  /// The error message; empty on success.
  const std::string &message() const { return errorMessage; }

  /// Returns a failure whose message is `prefix + ": " + message()`.
  Status withPrefix(const std::string &prefix) const {
    if (!hasFailed)
      return *this;
    return failure(prefix + ": " + errorMessage);
  }

private:
  Status() = default;
  bool hasFailed = false;
  std::string errorMessage;
};

/// A value of type `T` or a failed `Status`.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(const T &value) : storage(value) {}
  Expected(T &&value) : storage(std::move(value)) {}
  /// Builds a failed `Expected` from a failed `status`.
  Expected(Status status) : error(std::move(status)) {
    assert(error.failed() && "expected a failed status");
  }

  bool failed() const { return !storage.has_value(); }
  bool succeeded() const { return storage.has_value(); }
  /// The failure; success when a value is held.
  const Status &status() const { return error; }
  const std::string &message() const { return error.message(); }

  T &operator*() {
    assert(storage && "no value");
    return *storage;
  }
  const T &operator*() const {
    assert(storage && "no value");
    return *storage;
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

private:
  std::optional<T> storage;
  Status error = Status::success();
};

/// Builds an error message with `<<` and converts to a failed `Status` or
/// `Expected<T>`: `return makeError() << "expected rank " << rank;`.
class StatusBuilder {
public:
  template <typename T> StatusBuilder &operator<<(const T &value) {
    stream << value;
    return *this;
  }
  operator Status() const { return Status::failure(stream.str()); }
  template <typename T> operator Expected<T>() const {
    return Expected<T>(Status::failure(stream.str()));
  }

private:
  std::ostringstream stream;
};

/// Starts an error message; see `StatusBuilder`.
inline StatusBuilder makeError() { return StatusBuilder(); }

} // namespace ds::runtime

#endif // DS_RUNTIME_STATUS_H
