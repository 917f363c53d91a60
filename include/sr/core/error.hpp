#pragma once
// Errors: every failure in sr is an sr::Error carrying a message a user can act on (the op or file,
// the value seen and what was expected). Tools print what() on one line and exit non-zero.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace sr {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    return out.str();
}
}  // namespace detail

// Throws sr::Error with the concatenated parts; used by SR_CHECK and directly where a failure is
// certain (e.g. an unknown file format).
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
    throw Error(detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace sr

// SR_CHECK(condition, message parts...): throws sr::Error("<parts>") when condition is false.
// The message should name the op or file, the offending value and what was expected.
#define SR_CHECK(condition, ...)                 \
    do {                                         \
        if (!(condition)) ::sr::fail(__VA_ARGS__); \
    } while (false)
